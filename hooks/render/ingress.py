"""The Ingress that publishes the IDE (a host per Workspace, or a path when no domain is set)
and, behind the api's forward-auth, each exposed preview port on a host of its own."""

from typing import Any

from common import crd, names, previews
from hooks import access
from hooks.model import WorkspaceModel
from hooks.settings import Settings


def _rule(host: str | None, path: str, port_name: str) -> dict[str, Any]:
    backend = {"service": {"name": names.SERVICE, "port": {"name": port_name}}}
    rule: dict[str, Any] = {"http": {"paths": [{"path": path, "pathType": "Prefix", "backend": backend}]}}
    if host:
        rule["host"] = host
    return rule


def render_ingress(ws: WorkspaceModel, settings: Settings) -> dict[str, Any]:
    if not settings.ide_domain:
        spec: dict[str, Any] = {"rules": [_rule(None, access.ide_path(ws.name), "ide")]}
    else:
        hosts = {f"{ws.name}.{settings.ide_domain}": "ide"}
        for port in access.served_ports(ws, settings):
            hosts[previews.host(port.port, ws.name, settings.ide_domain)] = previews.service_port_name(port.port)
        spec = {"rules": [_rule(host, "/", port_name) for host, port_name in hosts.items()]}
        if settings.ide_tls:
            spec["tls"] = [{"hosts": list(hosts)}]  # the controller's default (wildcard) certificate
    if settings.ingress_class:
        spec["ingressClassName"] = settings.ingress_class
    metadata = ws.metadata(names.INGRESS, "network")
    if settings.forward_auth_url:
        metadata["annotations"] = {crd.ANNOTATION_FORWARD_AUTH_URL: settings.forward_auth_url}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}
