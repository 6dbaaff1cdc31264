"""The last guard before a sync answer leaves: no observed home volume is ever left out, and
neither is the Namespace that holds it (deleting a Namespace deletes the volumes in it).

Metacontroller deletes every observed child missing from a 200 answer. Whatever the sync
function decided, a PVC or its Namespace that it did not list is sent back as last applied, so
it stays as it is.
"""

from typing import Any

from hooks.protocol import SyncResponse
from hooks.reconcile import observed


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _key(obj: dict[str, Any]) -> tuple[Any, ...]:
    return obj.get("kind"), _meta(obj).get("namespace"), _meta(obj).get("name")


def _observed(children: dict[str, Any], group_key: str) -> list[dict[str, Any]]:
    group = (children or {}).get(group_key) or {}
    return [obj for obj in group.values() if isinstance(obj, dict)] if isinstance(group, dict) else []


def keep_observed_volumes(response: SyncResponse, children: dict[str, Any]) -> SyncResponse:
    desired = response.setdefault("children", [])
    listed = {_key(c) for c in desired}
    volumes = _observed(children, observed.PVC)
    holding = {_meta(pvc).get("namespace") for pvc in volumes}
    namespaces = [ns for ns in _observed(children, observed.NAMESPACE) if _meta(ns).get("name") in holding]
    for kind, api_version, objects in (
        ("Namespace", "v1", namespaces),
        ("PersistentVolumeClaim", "v1", volumes),
    ):
        for obj in objects:
            if _key({**obj, "kind": kind}) not in listed:
                desired.append(observed.last_applied({**obj, "kind": kind, "apiVersion": api_version}))
    return response
