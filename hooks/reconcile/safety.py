"""The last guard before a sync answer leaves: no observed home volume is ever left out.

Metacontroller deletes every observed child missing from a 200 answer. Whatever the sync
function decided, a PVC it did not list is sent back as last applied, so it stays as it is.
"""

from hooks.render import observed


def keep_observed_volumes(response: dict, children: dict) -> dict:
    desired = response.setdefault("children", [])
    listed = {
        (c.get("kind"), (c.get("metadata") or {}).get("namespace"), (c.get("metadata") or {}).get("name"))
        for c in desired
    }
    group = (children or {}).get(observed.PVC) or {}
    for pvc in group.values() if isinstance(group, dict) else []:
        if not isinstance(pvc, dict):
            continue
        meta = pvc.get("metadata") or {}
        if ("PersistentVolumeClaim", meta.get("namespace"), meta.get("name")) not in listed:
            desired.append(observed.last_applied({**pvc, "kind": "PersistentVolumeClaim", "apiVersion": "v1"}))
    return response
