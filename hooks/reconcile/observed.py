"""Reading the observed children Metacontroller sends: lookups and their last applied state."""

import json
from typing import Any

# Metacontroller keeps the desired object it last applied in this annotation (3-way merge).
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"

# Outer keys of the `children` map: "<Kind>.<apiVersion>".
NAMESPACE = "Namespace.v1"
SECRET = "Secret.v1"
PVC = "PersistentVolumeClaim.v1"
DEPLOYMENT = "Deployment.apps/v1"
SERVICE = "Service.v1"
INGRESS = "Ingress.networking.k8s.io/v1"
NETWORK_POLICY = "NetworkPolicy.networking.k8s.io/v1"
RESOURCE_QUOTA = "ResourceQuota.v1"
LIMIT_RANGE = "LimitRange.v1"
SERVICE_ACCOUNT = "ServiceAccount.v1"
# Every child kind the CompositeController declares; Metacontroller sends each key, even empty.
ALL_KINDS = (
    NAMESPACE,
    SECRET,
    PVC,
    DEPLOYMENT,
    SERVICE,
    INGRESS,
    NETWORK_POLICY,
    RESOURCE_QUOTA,
    LIMIT_RANGE,
    SERVICE_ACCOUNT,
)


def child_key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}.{obj['apiVersion']}"


def get(children: dict[str, Any], kind_key: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    """The observed child of that kind and name, or None."""
    group = children.get(kind_key) or {}
    if not isinstance(group, dict):
        return None
    found = group.get(f"{namespace}/{name}" if namespace else name)
    return found if isinstance(found, dict) else None


def all_children(children: dict[str, Any]) -> list[dict[str, Any]]:
    """Every observed child, whatever its kind; malformed entries are skipped."""
    out: list[dict[str, Any]] = []
    for group in (children or {}).values():
        if isinstance(group, dict):
            out.extend(obj for obj in group.values() if isinstance(obj, dict))
    return out


def last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """What was last applied for an observed child: re-sending it keeps the child unchanged.

    Falls back to the child's identity alone, which a 3-way merge also leaves untouched.
    """
    meta = obj.get("metadata") or {}
    identity: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": meta.get("name")},
    }
    if meta.get("namespace"):
        identity["metadata"]["namespace"] = meta["namespace"]
    raw = (meta.get("annotations") or {}).get(LAST_APPLIED)
    if isinstance(raw, str):
        try:
            applied = json.loads(raw)
        except ValueError:
            applied = None
        if isinstance(applied, dict) and applied.get("kind") == obj.get("kind"):
            applied.setdefault("metadata", {}).update(identity["metadata"])
            applied["apiVersion"] = identity["apiVersion"]
            return applied
    return identity
