"""The hook protocol as Metacontroller v4.17.2 enforces it (`version: v2` on every hook).

A 200 answer with a misspelt or unknown key must be a sync error that applies nothing and
deletes nothing: under v1's loose decoding it was an empty answer that deleted every child.
"""

from collections.abc import Iterator

import pytest

import kubeclient as kube
from common import crd
from tests.e2e.test_lifecycle import CHILDREN
from tests.support import workspaces as ws
from tests.support.cluster import Env, wait_until

NAME = "proto-strict"


def _child_uids(env: Env) -> dict[str, str]:
    found = {kind: ws.child(env, NAME, api, kind, name or f"ws-{NAME}") for api, kind, name in CHILDREN}
    return {kind: obj["metadata"]["uid"] for kind, obj in found.items() if obj}


def _sync_errors(env: Env) -> list[str]:
    events = kube.resource(env.client, "v1", "Event").get(field_selector=f"involvedObject.name={NAME}").to_dict()
    return [e.get("message", "") for e in events["items"] if e.get("reason") == "SyncError"]


@pytest.fixture
def running(env: Env) -> Iterator[dict[str, str]]:
    ws.template(env, "proto-python")
    ws.workspace(env, NAME, "proto-python")
    ws.wait_phase(env, NAME, crd.PHASE_RUNNING)
    uids = _child_uids(env)
    assert len(uids) == len(CHILDREN)
    yield uids
    env.recorder.tamper = None
    ws.delete(env, NAME)
    ws.wait_gone(env, NAME)
    ws.delete(env, "proto-python", kind="WorkspaceTemplate")


@pytest.mark.parametrize(
    ("case", "rewrite", "expected"),
    [
        (
            "misspelt children",
            lambda a: {**{k: v for k, v in a.items() if k != "children"}, "childrens": a["children"]},
            "childrens",
        ),
        ("unknown key", lambda a: {**a, "desiredChildren": []}, "desiredChildren"),
    ],
)
def test_malformed_answer_is_a_sync_error_and_deletes_nothing(env: Env, running, case, rewrite, expected) -> None:
    def tamper(hook: str, request: dict, answer: dict) -> dict:
        return rewrite(answer) if hook == "sync" and request["parent"]["metadata"]["name"] == NAME else answer

    env.recorder.tamper = tamper
    before = len(env.recorder.records("sync"))
    # Any change to the parent makes Metacontroller sync it; this one asks for nothing new.
    ws.patch(env, NAME, {"metadata": {"annotations": {"cps1.io/test-touch": case}}})
    wait_until(
        lambda: any(expected in m for m in _sync_errors(env)),
        60,
        what=f"a SyncError event naming {expected!r}",
    )
    # The hooks did answer (the tampered 200s came from real answers), and still nothing moved.
    assert len(env.recorder.records("sync")) > before
    assert _child_uids(env) == running
    deploy = ws.child(env, NAME, "apps/v1", "Deployment", "workspace")
    assert deploy is not None and deploy["spec"]["replicas"] == 1

    env.recorder.tamper = None
    ws.patch(env, NAME, {"metadata": {"annotations": {"cps1.io/test-touch": f"{case} fixed"}}})
    ws.wait_phase(env, NAME, crd.PHASE_RUNNING)
    assert _child_uids(env) == running
