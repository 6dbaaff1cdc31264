"""ResourceQuota and LimitRange: a Workspace namespace holds one workspace's worth."""

from typing import Any

from common import names
from hooks.model import WorkspaceModel


def render_resource_quota(ws: WorkspaceModel) -> dict[str, Any]:
    hard: dict[str, Any] = {
        "pods": "4",
        "persistentvolumeclaims": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        "requests.storage": str(ws.storage_size),
    }
    for resource in ("cpu", "memory"):
        if resource in ws.limits:
            hard[f"limits.{resource}"] = str(ws.limits[resource])
            hard[f"requests.{resource}"] = str(ws.limits[resource])
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ws.metadata(names.RESOURCE_QUOTA, "policy"),
        "spec": {"hard": dict(sorted(hard.items()))},
    }


def render_limit_range(ws: WorkspaceModel) -> dict[str, Any]:
    limit: dict[str, Any] = {"type": "Container"}
    if ws.limits:
        limit["default"] = {k: str(v) for k, v in sorted(ws.limits.items())}
        limit["max"] = {k: str(v) for k, v in sorted(ws.limits.items())}
    if ws.requests:
        limit["defaultRequest"] = {k: str(v) for k, v in sorted(ws.requests.items())}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": ws.metadata(names.LIMIT_RANGE, "policy"),
        "spec": {"limits": [limit]},
    }
