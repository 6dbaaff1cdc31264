"""Helpers for driving Workspaces on the local control plane from the e2e tests."""

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

from kubernetes.dynamic.exceptions import NotFoundError

import kubeclient as kube
from tests.conftest import python_example
from tests.support.cluster import Env, wait_until

API = "cps1.io/v1alpha1"
PYTHON = python_example()


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template(env: Env, name: str, **spec: Any) -> dict:
    body = copy.deepcopy(PYTHON)
    body["metadata"] = {"name": name}
    body["spec"].update(spec)
    return kube.apply(env.client, body)


def workspace(env: Env, name: str, template_name: str, **spec: Any) -> dict:
    body = {
        "apiVersion": API,
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"owner": "alice", "template": template_name, **spec},
    }
    return kube.apply(env.client, body)


def patch(env: Env, name: str, body: dict, kind: str = "Workspace") -> dict:
    return (
        kube.resource(env.client, API, kind)
        .patch(name=name, body=body, content_type="application/merge-patch+json")
        .to_dict()
    )


def get(env: Env, name: str) -> dict:
    return kube.get(env.client, API, "Workspace", name) or {}


def status(env: Env, name: str) -> dict:
    return get(env, name).get("status") or {}


def condition(env: Env, name: str, kind: str) -> dict:
    return next((c for c in status(env, name).get("conditions") or [] if c["type"] == kind), {})


def wait_phase(env: Env, name: str, phase: str, timeout: float = 60) -> dict:
    wait_until(
        lambda: status(env, name).get("phase") == phase,
        timeout,
        what=f"workspace {name} to be {phase} (now {status(env, name).get('phase')})",
    )
    return status(env, name)


def child(env: Env, name: str, api_version: str, kind: str, child_name: str) -> dict | None:
    namespace = None if kind == "Namespace" else f"ws-{name}"
    return kube.get(env.client, api_version, kind, child_name, namespace)


def delete(env: Env, name: str, kind: str = "Workspace") -> None:
    with contextlib.suppress(NotFoundError):
        kube.resource(env.client, API, kind).delete(name=name)


def wait_gone(env: Env, name: str, timeout: float = 90) -> None:
    wait_until(
        lambda: not get(env, name) and child(env, name, "v1", "Namespace", f"ws-{name}") is None,
        timeout,
        what=f"workspace {name} and its namespace to be gone",
    )


def syncs(env: Env, name: str) -> int:
    """How many sync answers the hooks have given for `name` so far (the recorder's count)."""
    return sum(1 for r in env.recorder.records("sync") if r["request"]["parent"]["metadata"]["name"] == name)


def wait_syncs(env: Env, name: str, more: int = 1, timeout: float = 90) -> None:
    """Wait until the hooks answered `more` further syncs for `name`: a window in which
    Metacontroller did act, so what did not change there was really left alone."""
    start = syncs(env, name)
    wait_until(lambda: syncs(env, name) >= start + more, timeout, interval=0.5, what=f"{more} more syncs of {name}")
