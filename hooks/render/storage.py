"""The home PersistentVolumeClaim. Only its size may ever change after creation, and only
when its storage class allows volume expansion."""

from typing import Any

from common import names
from common.quantity import parse_quantity
from hooks.model import WorkspaceModel

STORAGE_CLASS_KEY = "StorageClass.storage.k8s.io/v1"


def _size(pvc: dict[str, Any]) -> str | None:
    return (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


def _bigger(a: object, b: object) -> bool:
    try:
        return parse_quantity(a) > parse_quantity(b)
    except ValueError:
        return False


def resize_blocked(ws: WorkspaceModel, observed: dict[str, Any] | None, related: dict[str, Any]) -> str | None:
    """Why the volume cannot grow to the size asked for, or None when it can (or need not)."""
    current = _size(observed) if observed else None
    if not current or not _bigger(ws.storage_size, current):
        return None
    class_name = (observed.get("spec") or {}).get("storageClassName", "") if observed else ""
    storage_class = ((related or {}).get(STORAGE_CLASS_KEY) or {}).get(class_name) or {}
    if storage_class.get("allowVolumeExpansion"):
        return None
    return (
        f"the home volume stays at {current}: storage class {class_name or '(default)'!r} "
        f"does not allow growing it to {ws.storage_size}"
    )


def render_pvc(ws: WorkspaceModel, observed: dict[str, Any] | None, can_grow: bool = True) -> dict[str, Any]:
    """The PVC; immutable fields are kept from the observed one, and so is its size when it is
    larger than asked or cannot grow."""
    spec: dict[str, Any] = {
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
        seen_size = _size(observed)
        if seen_size and (not can_grow or not _bigger(ws.storage_size, seen_size)):
            spec["resources"]["requests"]["storage"] = seen_size
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ws.metadata(names.PVC, "storage"),
        "spec": spec,
    }
