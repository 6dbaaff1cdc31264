"""The Workspace's own namespace, enforcing the restricted Pod Security standard."""

from typing import Any

from hooks.model import WorkspaceModel

POD_SECURITY = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def render_namespace(ws: WorkspaceModel) -> dict[str, Any]:
    meta = ws.metadata(ws.namespace, "namespace", namespaced=False)
    meta["labels"].update(POD_SECURITY)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
