"""What the api shows of Kubernetes objects: plain dicts in the shape the OpenAPI document
declares. Pure functions, so the shape is tested without a cluster."""

import dataclasses

from common import accounts, crd, workspace_limits


def workspace(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    notes = meta.get("annotations") or {}
    return {
        "name": meta.get("name", ""),
        "owner": spec.get("owner", ""),
        "template": spec.get("template", ""),
        "parameters": spec.get("parameters") or {},
        "running": bool(spec.get("running", True)),
        "sshAuthorizedKeys": spec.get("sshAuthorizedKeys") or [],
        "secrets": spec.get("secrets") or [],
        "idleTimeoutSeconds": spec.get("idleTimeoutSeconds"),
        "storage": spec.get("storage") or {},
        "phase": status.get("phase", crd.PHASE_PENDING),
        "message": status.get("message", ""),
        "stoppedReason": status.get("stoppedReason", ""),
        "conditions": status.get("conditions") or [],
        "ideURL": status.get("ideURL", ""),
        "sshCommand": status.get("sshCommand", ""),
        "ports": spec.get("ports") or [],
        "previews": status.get("ports") or [],
        "lastActivity": notes.get(crd.ANNOTATION_LAST_ACTIVITY, ""),
        "keepAliveUntil": notes.get(crd.ANNOTATION_KEEP_ALIVE_UNTIL, ""),
        "updatePending": bool(status.get("updatePending", False)),
        "createdAt": meta.get("creationTimestamp", ""),
        "deleting": bool(meta.get("deletionTimestamp")),
    }


def template(obj: dict, usage: int | None = None) -> dict:
    spec = obj.get("spec") or {}
    out = {
        "name": (obj.get("metadata") or {}).get("name", ""),
        "displayName": spec.get("displayName", ""),
        "description": spec.get("description", ""),
        "image": spec.get("image", ""),
        "resources": spec.get("resources") or {},
        "storage": spec.get("storage") or {},
        "idleTimeoutSeconds": spec.get("idleTimeoutSeconds"),
        "parameters": spec.get("parameters") or [],
        "spec": spec,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def event(obj: dict) -> dict:
    involved = obj.get("involvedObject") or {}
    return {
        "type": obj.get("type", ""),
        "reason": obj.get("reason", ""),
        "message": obj.get("message", ""),
        "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
        "count": obj.get("count") or 1,
        "time": obj.get("lastTimestamp")
        or obj.get("eventTime")
        or (obj.get("metadata") or {}).get("creationTimestamp"),
    }


def token(record: accounts.TokenRecord) -> dict:
    return {"id": record.id, "name": record.name, "created": record.created, "expires": record.expires}


def user(configmap: dict, admins: tuple[str, ...], effective: workspace_limits.Limits) -> dict:
    """A user as the API shows them; `effective` are the limits that apply to them (their own,
    their groups', the installation's: common/workspace_limits.py)."""
    name = ((configmap.get("metadata") or {}).get("labels") or {}).get(accounts.USER_LABEL, "")
    return {
        "name": name,
        "admin": accounts.is_admin(configmap) or name in admins,
        "keys": len(accounts.keys_of(configmap)),
        "disabled": accounts.is_disabled(configmap),
        "limits": accounts.limits_of(configmap),
        "effectiveLimits": dataclasses.asdict(effective),
        "groups": accounts.groups_of(configmap),
    }
