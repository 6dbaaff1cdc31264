"""The Workspace's ServiceAccount: an identity with no token and no permissions."""

from typing import Any

from common import names
from hooks.model import WorkspaceModel


def render_service_account(ws: WorkspaceModel) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ws.metadata(names.SERVICE_ACCOUNT, "identity"),
        "automountServiceAccountToken": False,
    }
