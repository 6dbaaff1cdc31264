"""The Service in front of the workspace pod: the IDE port, the SSH port and the served preview ports."""

from typing import Any

from common import labels, names, previews
from hooks import access
from hooks.model import WorkspaceModel
from hooks.settings import Settings


def render_service(ws: WorkspaceModel, settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ws.metadata(names.SERVICE, "network"),
        "spec": {
            "type": "ClusterIP",
            "selector": labels.selector_labels(ws.name),
            "ports": [
                {"name": "ide", "port": ws.ide_port, "targetPort": "ide", "protocol": "TCP"},
                {"name": "ssh", "port": 22, "targetPort": "ssh", "protocol": "TCP"},
                *(
                    {
                        "name": previews.service_port_name(p.port),
                        "port": p.port,
                        "targetPort": p.port,
                        "protocol": "TCP",
                    }
                    for p in access.served_ports(ws, settings)
                ),
            ],
        },
    }
