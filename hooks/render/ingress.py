"""The Ingress that publishes the IDE: a host per Workspace, or a path when no domain is set."""

from typing import Any

from common import names
from hooks import access
from hooks.model import WorkspaceModel
from hooks.settings import Settings


def render_ingress(ws: WorkspaceModel, settings: Settings) -> dict[str, Any]:
    backend = {"service": {"name": names.SERVICE, "port": {"name": "ide"}}}
    rule: dict[str, Any] = {
        "http": {
            "paths": [
                {
                    "path": "/" if settings.ide_domain else access.ide_path(ws.name),
                    "pathType": "Prefix",
                    "backend": backend,
                }
            ]
        }
    }
    spec: dict[str, Any] = {"rules": [rule]}
    if settings.ide_domain:
        host = f"{ws.name}.{settings.ide_domain}"
        rule["host"] = host
        if settings.ide_tls:
            spec["tls"] = [{"hosts": [host]}]  # the controller's default (wildcard) certificate
    if settings.ingress_class:
        spec["ingressClassName"] = settings.ingress_class
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": ws.metadata(names.INGRESS, "network"),
        "spec": spec,
    }
