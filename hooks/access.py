"""How a developer reaches a Workspace: its IDE address and its SSH command."""

from hooks.settings import Settings


def ide_path(workspace: str) -> str:
    return f"/ws/{workspace}/"


def ide_url(workspace: str, settings: Settings) -> str:
    """Host per workspace under ide_domain, else a path under ide_base_url."""
    if settings.ide_domain:
        scheme = "https" if settings.ide_tls else "http"
        port = f":{settings.ide_port}" if settings.ide_port else ""
        return f"{scheme}://{workspace}.{settings.ide_domain}{port}/"
    return settings.ide_base_url.rstrip("/") + ide_path(workspace)


def ssh_command(workspace: str, settings: Settings) -> str:
    port = "" if settings.gateway_port == 22 else f" -p {settings.gateway_port}"
    return f"ssh{port} {workspace}@{settings.gateway_host}"
