"""The Service in front of the workspace pod: the IDE port and the SSH port."""

from typing import Any

from common import labels, names
from hooks.model import WorkspaceModel


def render_service(ws: WorkspaceModel) -> dict[str, Any]:
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
            ],
        },
    }
