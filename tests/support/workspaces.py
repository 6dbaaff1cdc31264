"""Helpers for driving Workspaces on the local control plane from the e2e tests."""

import contextlib
import copy
from datetime import UTC, datetime

from kubernetes.dynamic.exceptions import NotFoundError

import kubeclient as kube
from tests.conftest import python_example
from tests.support.cluster import wait_until

API = "cps1.io/v1alpha1"
PYTHON = python_example()


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template(env, name: str, **spec: object) -> dict:  # type: ignore[no-untyped-def]
    body = copy.deepcopy(PYTHON)
    body["metadata"] = {"name": name}
    body["spec"].update(spec)
    return kube.apply(env.client, body)


def workspace(env, name: str, template_name: str, **spec: object) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "apiVersion": API,
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"owner": "alice", "template": template_name, **spec},
    }
    return kube.apply(env.client, body)


def patch(env, name: str, body: dict, kind: str = "Workspace") -> dict:  # type: ignore[no-untyped-def]
    return (
        kube.resource(env.client, API, kind)
        .patch(name=name, body=body, content_type="application/merge-patch+json")
        .to_dict()
    )


def get(env, name: str) -> dict:  # type: ignore[no-untyped-def]
    return kube.get(env.client, API, "Workspace", name) or {}


def status(env, name: str) -> dict:  # type: ignore[no-untyped-def]
    return get(env, name).get("status") or {}


def condition(env, name: str, kind: str) -> dict:  # type: ignore[no-untyped-def]
    return next((c for c in status(env, name).get("conditions") or [] if c["type"] == kind), {})


def wait_phase(env, name: str, phase: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    wait_until(
        lambda: status(env, name).get("phase") == phase,
        timeout,
        what=f"workspace {name} to be {phase} (now {status(env, name).get('phase')})",
    )
    return status(env, name)


def child(env, name: str, api_version: str, kind: str, child_name: str) -> dict | None:  # type: ignore[no-untyped-def]
    namespace = None if kind == "Namespace" else f"ws-{name}"
    return kube.get(env.client, api_version, kind, child_name, namespace)


def delete(env, name: str, kind: str = "Workspace") -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(NotFoundError):
        kube.resource(env.client, API, kind).delete(name=name)


def wait_gone(env, name: str, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    wait_until(
        lambda: not get(env, name) and child(env, name, "v1", "Namespace", f"ws-{name}") is None,
        timeout,
        what=f"workspace {name} and its namespace to be gone",
    )


def syncs(env, name: str) -> int:  # type: ignore[no-untyped-def]
    """How many sync answers the hooks have given for `name` so far (the recorder's count)."""
    return sum(1 for r in env.recorder.records("sync") if r["request"]["parent"]["metadata"]["name"] == name)


def wait_syncs(env, name: str, more: int = 1, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    """Wait until the hooks answered `more` further syncs for `name`: a window in which
    Metacontroller did act, so what did not change there was really left alone."""
    start = syncs(env, name)
    wait_until(lambda: syncs(env, name) >= start + more, timeout, interval=0.5, what=f"{more} more syncs of {name}")
