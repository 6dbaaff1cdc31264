"""How a developer reaches a Workspace: its IDE address, its preview URLs and its SSH command."""

from common import previews
from hooks.model import WorkspaceModel
from hooks.settings import Settings


def ide_path(workspace: str) -> str:
    return f"/ws/{workspace}/"


def ide_url(workspace: str, settings: Settings) -> str:
    """Host per workspace under ide_domain, else a path under ide_base_url."""
    if settings.ide_domain:
        return _origin(f"{workspace}.{settings.ide_domain}", settings)
    return settings.ide_base_url.rstrip("/") + ide_path(workspace)


def _origin(host: str, settings: Settings) -> str:
    scheme = "https" if settings.ide_tls else "http"
    port = f":{settings.ide_port}" if settings.ide_port else ""
    return f"{scheme}://{host}{port}/"


def served_ports(ws: WorkspaceModel, settings: Settings) -> tuple[previews.Port, ...]:
    """The preview ports that get a URL: only with a host per Workspace (each URL its own
    origin) and the api's forward-auth in front (else a port would be open to anyone)."""
    return ws.preview_ports if settings.ide_domain and settings.forward_auth_url else ()


def preview_url(workspace: str, port: int, settings: Settings) -> str:
    return _origin(previews.host(port, workspace, settings.ide_domain), settings)


def ssh_command(workspace: str, settings: Settings) -> str:
    port = "" if settings.gateway_port == 22 else f" -p {settings.gateway_port}"
    return f"ssh{port} {workspace}@{settings.gateway_host}"
