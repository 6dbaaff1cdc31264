"""Builders of hook inputs shaped like what Metacontroller sends, for the unit tests."""

import json
from datetime import UTC, datetime
from typing import Any

from hooks.protocol import SyncResponse
from hooks.reconcile import observed, workspace
from hooks.settings import Settings

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
SETTINGS = Settings(secret_seed="test-seed", gateway_public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7s gateway")


def parent(name: str = "alice-dev", template: str = "python", **spec: Any) -> dict:
    return {
        "apiVersion": "cps1.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": "2026-11-22T11:55:00Z",
        },
        "spec": {"owner": "alice", "template": template, "running": True, **spec},
    }


def related(*templates: dict) -> dict:
    return {workspace.TEMPLATE_KEY: {t["metadata"]["name"]: t for t in templates}}


def request_body(children: dict, *templates: dict, finalizing: bool = False, **spec: Any) -> dict:
    """A whole hook request as Metacontroller posts it."""
    return {
        "controller": {},
        "parent": parent(**spec),
        "children": children,
        "related": related(*templates),
        "finalizing": finalizing,
    }


def stored(child: dict, **status: object) -> dict:
    """A child as the API server and Metacontroller would hand it back: server fields,
    the controller reference, the last-applied annotation, and a status."""
    obj = json.loads(json.dumps(child))
    meta = obj["metadata"]
    meta.setdefault("annotations", {})[observed.LAST_APPLIED] = json.dumps(child)
    meta.update(uid=f"uid-{meta['name']}", resourceVersion="42", generation=1)
    meta["ownerReferences"] = [
        {"apiVersion": "cps1.io/v1alpha1", "kind": "Workspace", "name": "x", "uid": "u", "controller": True}
    ]
    meta.setdefault("labels", {})["controller-uid"] = "u"
    if status:
        obj["status"] = status
    return obj


def children_map(objs: list[dict]) -> dict:
    """The `children` request field: "<Kind>.<apiVersion>" -> "<ns>/<name>" or "<name>" -> object."""
    out: dict = {key: {} for key in observed.ALL_KINDS}
    for obj in objs:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        out.setdefault(observed.child_key(obj), {})[key] = obj
    return out


READY_STATUS: dict[str, dict[str, Any]] = {
    "Deployment": {
        "observedGeneration": 1,
        "replicas": 1,
        "availableReplicas": 1,
        "readyReplicas": 1,
        "updatedReplicas": 1,
    },
    "PersistentVolumeClaim": {"phase": "Bound"},
}


def converged(
    parent_obj: dict,
    template: dict,
    settings: Settings = SETTINGS,
    now: datetime = NOW,
    more_related: dict | None = None,
) -> tuple[SyncResponse, dict[str, Any]]:
    """Run sync until every desired child exists and is ready, like a healthy cluster would.
    Returns (final response, the children map it saw)."""
    children = children_map([])
    seen = {**related(template), **(more_related or {})}
    for _ in range(5):
        answer = workspace.sync(parent_obj, children, seen, now=now, settings=settings)
        objs = [stored(c, **READY_STATUS.get(c["kind"], {})) for c in answer["children"]]
        if len(objs) == sum(len(g) for g in children.values()):
            return answer, children
        children = children_map(objs)
    answer = workspace.sync(parent_obj, children, seen, now=now, settings=settings)
    return answer, children
