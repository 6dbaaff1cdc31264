"""The home PersistentVolumeClaim. Only its size may ever change after creation."""

from common import names
from common.quantity import parse_quantity
from hooks.render.model import WorkspaceModel


def render_pvc(ws: WorkspaceModel, observed: dict | None) -> dict:
    """The PVC; immutable fields and a size larger than asked are kept from the observed one."""
    spec: dict = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": str(ws.storage_size)}},
    }
    if ws.storage_class:
        spec["storageClassName"] = ws.storage_class
    if observed:
        seen = observed.get("spec") or {}
        if seen.get("accessModes"):
            spec["accessModes"] = seen["accessModes"]
        if seen.get("storageClassName"):
            spec["storageClassName"] = seen["storageClassName"]
        else:
            spec.pop("storageClassName", None)
        seen_size = ((seen.get("resources") or {}).get("requests") or {}).get("storage")
        try:
            if seen_size and parse_quantity(seen_size) > parse_quantity(ws.storage_size):
                spec["resources"]["requests"]["storage"] = seen_size
        except ValueError:
            spec["resources"]["requests"]["storage"] = seen_size
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ws.metadata(names.PVC, "storage"),
        "spec": spec,
    }
