"""Reading and applying single objects, and the readiness checks the local cluster waits on."""

from typing import Any

from kubernetes import dynamic
from kubernetes.dynamic.exceptions import NotFoundError

FIELD_MANAGER = "cps1"


def resource(client: dynamic.DynamicClient, api_version: str, kind: str) -> dynamic.Resource:
    return client.resources.get(api_version=api_version, kind=kind)


def apply(client: dynamic.DynamicClient, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply (create or update) of one object; returns it as stored."""
    res = resource(client, body["apiVersion"], body["kind"])
    namespace = body.get("metadata", {}).get("namespace")
    out = res.server_side_apply(body=body, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True)
    return out.to_dict()


def get(
    client: dynamic.DynamicClient, api_version: str, kind: str, name: str, namespace: str | None = None
) -> dict[str, Any] | None:
    try:
        return resource(client, api_version, kind).get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def exists(client: dynamic.DynamicClient, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    return get(client, api_version, kind, name, namespace) is not None


def nodes_ready(client: dynamic.DynamicClient, count: int, tolerated: tuple[str, ...] = ()) -> bool:
    """At least `count` nodes are Ready and carry no NoSchedule taint but `tolerated` keys (so
    pods, or those that tolerate these, can land)."""
    ready = 0
    for node in resource(client, "v1", "Node").get().to_dict()["items"]:
        conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions") or []}
        taints = [
            t
            for t in node.get("spec", {}).get("taints") or []
            if t.get("effect") == "NoSchedule" and t.get("key") not in tolerated
        ]
        ready += conds.get("Ready") == "True" and not taints
    return ready >= count


def crd_established(client: dynamic.DynamicClient, name: str) -> bool:
    crd = get(client, "apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
