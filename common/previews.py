"""Preview ports: the web apps a Workspace exposes (`spec.ports`), each at a share level its
owner picks, capped by its template's `previews.maxShare`. Pure data rules shared by the hooks
(which render and report them), the api (which refuses a share above the cap) and the
forward-auth decision (which never serves a port wider than the cap, whatever was applied)."""

from dataclasses import dataclass
from typing import Any

# Narrowest first: a share level's index is its width.
OWNER, AUTHENTICATED, PUBLIC = "owner", "authenticated", "public"
SHARE_LEVELS = (OWNER, AUTHENTICATED, PUBLIC)
# Between the port number and the Workspace name in a preview host: a Workspace name never
# holds two dashes in a row at its start, and a port is digits, so the split is unambiguous.
HOST_SEPARATOR = "--"


@dataclass(frozen=True)
class Port:
    """One exposed port of a Workspace, as declared (share is what was asked for)."""

    port: int
    name: str
    share: str
    protocol: str = "http"


def _port(entry: dict[str, Any]) -> Port:
    return Port(
        port=int(entry["port"]),
        name=str(entry.get("name") or ""),
        share=str(entry.get("share") or OWNER),
        protocol=str(entry.get("protocol") or "http"),
    )


def declared_ports(spec: dict[str, Any], template_spec: dict[str, Any]) -> list[Port]:
    """The template's default ports overlaid by the Workspace's own (same number: the
    Workspace's entry wins), sorted by port number."""
    defaults = (template_spec.get("previews") or {}).get("defaultPorts") or []
    merged = {int(e["port"]): _port(e) for e in defaults if isinstance(e, dict) and "port" in e}
    merged.update({int(e["port"]): _port(e) for e in spec.get("ports") or [] if isinstance(e, dict) and "port" in e})
    return [merged[number] for number in sorted(merged)]


def max_share(template_spec: dict[str, Any]) -> str:
    share = (template_spec.get("previews") or {}).get("maxShare") or PUBLIC
    return share if share in SHARE_LEVELS else OWNER


def capped(share: str, maximum: str) -> str:
    """The narrower of `share` and `maximum` (an unknown level counts as owner-only)."""
    width = min(_width(share), _width(maximum))
    return SHARE_LEVELS[width]


def _width(share: str) -> int:
    return SHARE_LEVELS.index(share) if share in SHARE_LEVELS else 0


def share_problems(ports: list[Port], template_spec: dict[str, Any]) -> dict[int, str]:
    """Port -> why its share level is above what the template allows."""
    maximum = max_share(template_spec)
    return {
        p.port: f"port {p.port} is shared {p.share}, above this template's maximum of {maximum}"
        for p in ports
        if _width(p.share) > _width(maximum)
    }


def reserved_problems(ports: list[Port], reserved: dict[str, int]) -> dict[int, str]:
    """Port -> why it cannot be exposed: it is the IDE's or sshd's own port (`reserved`:
    role -> number), which keep their own, owner-only, access paths."""
    by_number = {number: role for role, number in reserved.items()}
    return {
        p.port: f"port {p.port} is the workspace's {by_number[p.port]} port and cannot be exposed"
        for p in ports
        if p.port in by_number
    }


def host(port: int, workspace: str, domain: str) -> str:
    """The preview host of `port` of `workspace`: its own origin under the IDE domain."""
    return f"{port}{HOST_SEPARATOR}{workspace}.{domain}"


def parse_host(hostname: str, domain: str) -> tuple[str, int | None] | None:
    """(workspace, port) for a preview host, (workspace, None) for an IDE host, None for a host
    outside `domain`. A port suffix (":8080") is ignored."""
    name = hostname.split(":", 1)[0].lower().rstrip(".")
    suffix = "." + domain.lower()
    if not domain or not name.endswith(suffix):
        return None
    label = name[: -len(suffix)]
    if not label or "." in label:
        return None
    number, separator, workspace = label.partition(HOST_SEPARATOR)
    if separator and number.isdigit() and workspace:
        return workspace, int(number)
    return label, None


def with_port(
    ports: list[dict[str, Any]], port: int, *, share: str = "", name: str = "", remove: bool = False
) -> list[dict[str, Any]]:
    """A Workspace's `ports` list (as the API shows it) with `port` added, changed (share,
    name) or removed: what the CLI and the console send back."""
    kept = [dict(p) for p in ports if p["port"] != port]
    if remove:
        return kept
    old = next((p for p in ports if p["port"] == port), {})
    entry = {**old, "port": port, "share": share or old.get("share", OWNER)}
    if name:
        entry["name"] = name
    return sorted([*kept, entry], key=lambda p: p["port"])


def service_port_name(port: int) -> str:
    """The Workspace Service's port name for an exposed port (a name is at most 15 characters)."""
    return f"p{port}"
