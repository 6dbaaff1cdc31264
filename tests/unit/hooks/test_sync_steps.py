"""Table tests of sync's five steps, each on its own: the run/idle decision, rendering in
waves, the Deployment's state as a phase, the status, and when to look again. Pure."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from common import crd, names
from common.timefmt import format_time
from hooks import model
from hooks.reconcile import workspace
from hooks.reconcile.workspace import RunDecision
from tests.unit.hooks import factories
from tests.unit.hooks.factories import NOW, SETTINGS, children_map, parent, stored

MINUTE = timedelta(minutes=1)


def resolved(python_template: dict, **spec: Any) -> model.WorkspaceModel:
    ws, errors = model.resolve(parent(**spec), python_template)
    assert ws is not None, errors
    return ws


def with_status(obj: dict, **status: object) -> dict:
    return {**obj, "status": status}


def with_activity(obj: dict, moment: datetime) -> dict:
    annotations = {crd.ANNOTATION_LAST_ACTIVITY: format_time(moment)}
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


# Created at 11:55 (NOW is 12:00); the python template's idle timeout applies unless set.
@pytest.mark.parametrize(
    ("spec", "status", "activity", "expected"),
    [
        # First run: started now; the idle deadline counts from its creation (11:55).
        ({"idleTimeoutSeconds": 600}, {}, None, (True, NOW, NOW + 5 * MINUTE, "")),
        # Running since 11:58 with activity at 11:59: the deadline follows the activity.
        (
            {"idleTimeoutSeconds": 600},
            {"lastStartTime": "2026-11-22T11:58:00Z"},
            NOW - MINUTE,
            (True, NOW - 2 * MINUTE, NOW + 9 * MINUTE, ""),
        ),
        # Quiet for longer than the timeout: stopped by the idle policy, start time kept.
        (
            {"idleTimeoutSeconds": 60},
            {"lastStartTime": "2026-11-22T11:50:00Z"},
            NOW - 5 * MINUTE,
            (False, NOW - 10 * MINUTE, NOW - 4 * MINUTE, crd.STOPPED_BY_IDLE),
        ),
        # Its user stopped it: not running, whatever the activity.
        ({"running": False, "idleTimeoutSeconds": 600}, {}, None, (False, None, NOW + 5 * MINUTE, crd.STOPPED_BY_USER)),
        # Started again by its user after a user stop: the clock restarts now.
        (
            {"idleTimeoutSeconds": 600},
            {"stoppedReason": crd.STOPPED_BY_USER, "lastStartTime": "2026-11-22T08:00:00Z"},
            None,
            (True, NOW, NOW + 10 * MINUTE, ""),
        ),
        # No idle policy: never a deadline.
        ({"idleTimeoutSeconds": 0}, {}, None, (True, NOW, None, "")),
        # A start time from the future is not believed.
        ({"idleTimeoutSeconds": 0}, {"lastStartTime": "2030-01-01T00:00:00Z"}, None, (True, NOW, None, "")),
    ],
)
def test_decide_run(
    python_template: dict, spec: dict, status: dict, activity: datetime | None, expected: tuple
) -> None:
    obj = with_status(parent(**spec), **status)
    if activity:
        obj = with_activity(obj, activity)
    run = workspace.decide_run(obj, resolved(python_template, **spec), now=NOW)
    assert (run.running, run.started, run.deadline, run.stopped_reason) == expected


def test_render_desired_waves_and_host_key(python_template: dict) -> None:
    ws = resolved(python_template)
    first = workspace.render_desired(ws, children_map([]), {}, running=True, settings=SETTINGS)
    assert [c["kind"] for c in first.children] == ["Namespace"]
    assert first.ssh_host_key.startswith("ssh-ed25519 ")
    assert (first.update_pending, first.resize_problem) == (False, None)
    namespace = children_map([stored(first.children[0])])
    second = workspace.render_desired(ws, namespace, {}, running=True, settings=SETTINGS)
    assert "Deployment" not in {c["kind"] for c in second.children}
    assert len(second.children) == 9
    _, converged = factories.converged(parent(), python_template)
    third = workspace.render_desired(ws, converged, {}, running=False, settings=SETTINGS)
    deploy = next(c for c in third.children if c["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 0
    assert third.ssh_host_key == first.ssh_host_key


def test_render_desired_holds_a_template_change_back_from_a_running_pod(python_template: dict) -> None:
    _, converged = factories.converged(parent(), python_template)
    changed = {**python_template, "spec": {**python_template["spec"], "image": "python:3.13"}}
    ws = resolved(changed)
    running = workspace.render_desired(ws, converged, {}, running=True, settings=SETTINGS)
    assert running.update_pending
    stopped = workspace.render_desired(ws, converged, {}, running=False, settings=SETTINGS)
    assert not stopped.update_pending


def deployment(wanted: int | None, **status: object) -> dict:
    spec = {} if wanted is None else {"replicas": wanted}
    return {"metadata": {"generation": 2}, "spec": spec, "status": {"observedGeneration": 2, **status}}


AVAILABLE = {"replicas": 1, "availableReplicas": 1}
FAILED = {"conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]}


@pytest.mark.parametrize(
    ("seen", "running", "stopped_reason", "namespace_seen", "expected"),
    [
        (None, True, "", False, (crd.PHASE_PENDING, "Creating")),
        (None, True, "", True, (crd.PHASE_PENDING, "Creating")),
        (deployment(1), True, "", True, (crd.PHASE_STARTING, "Starting")),
        (deployment(1, **AVAILABLE), True, "", True, (crd.PHASE_RUNNING, "Available")),
        # Available but with no replicas field: still starting (as before the split).
        (deployment(None, **AVAILABLE), True, "", True, (crd.PHASE_STARTING, "Starting")),
        (deployment(1, **FAILED), True, "", True, (crd.PHASE_FAILED, "StartFailed")),
        (deployment(0), False, crd.STOPPED_BY_USER, True, (crd.PHASE_STOPPED, crd.STOPPED_BY_USER)),
        (None, False, crd.STOPPED_BY_IDLE, True, (crd.PHASE_STOPPED, crd.STOPPED_BY_IDLE)),
        (deployment(0, replicas=1), False, crd.STOPPED_BY_IDLE, True, (crd.PHASE_STOPPING, "Stopping")),
        (deployment(1, **AVAILABLE), False, crd.STOPPED_BY_USER, True, (crd.PHASE_STOPPING, "Stopping")),
    ],
)
def test_phase_of(seen: dict | None, running: bool, stopped_reason: str, namespace_seen: bool, expected: tuple) -> None:
    phase, ready = workspace.phase_of(
        seen, running=running, stopped_reason=stopped_reason, namespace_seen=namespace_seen
    )
    assert (phase, ready.reason) == expected
    assert ready.status is (phase == crd.PHASE_RUNNING)


def test_phase_of_says_who_stopped_it() -> None:
    _, by_user = workspace.phase_of(None, running=False, stopped_reason=crd.STOPPED_BY_USER, namespace_seen=True)
    _, by_idle = workspace.phase_of(None, running=False, stopped_reason=crd.STOPPED_BY_IDLE, namespace_seen=True)
    assert by_user.message == "the workspace is stopped by its user"
    assert by_idle.message == "the workspace is stopped after its idle timeout"


@pytest.mark.parametrize(
    ("run", "pending", "pvc", "expected"),
    [
        (
            RunDecision(True, NOW, None, ""),
            False,
            {"status": {"phase": "Bound"}},
            {"lastStartTime": "2026-11-22T12:00:00Z", "UpdatePending": "False", "StorageReady": "True"},
        ),
        (
            RunDecision(False, None, None, crd.STOPPED_BY_USER),
            True,
            None,
            {"stoppedReason": crd.STOPPED_BY_USER, "UpdatePending": "True", "StorageReady": "False"},
        ),
    ],
)
def test_build_status(python_template: dict, run: RunDecision, pending: bool, pvc: dict | None, expected: dict) -> None:
    ws = resolved(python_template)
    desired = workspace.Desired([], "ssh-ed25519 AAAA host", pending, None)
    ready = workspace.phase_of(None, running=run.running, stopped_reason=run.stopped_reason, namespace_seen=True)
    status = workspace.build_status(parent(), ws, run, desired, pvc, ready, now=NOW, settings=SETTINGS)
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    seen = {**status, **conditions}
    assert {key: seen.get(key) for key in expected} == expected
    assert ("lastStartTime" in status) is (run.started is not None)
    assert status["sshHostKey"] == "ssh-ed25519 AAAA host"
    assert status["namespace"] == names.namespace_for("alice-dev")
    assert status["phase"] == ready[0]
    assert status["templateHash"] == ws.template_hash


@pytest.mark.parametrize(
    ("phase", "run", "max_resync", "expected"),
    [
        (crd.PHASE_STARTING, RunDecision(True, NOW, NOW + 10 * MINUTE, ""), 300, workspace.BUSY_RESYNC_SECONDS),
        (crd.PHASE_FAILED, RunDecision(True, NOW, None, ""), 300, workspace.BUSY_RESYNC_SECONDS),
        (crd.PHASE_STOPPING, RunDecision(False, NOW, None, crd.STOPPED_BY_IDLE), 300, workspace.BUSY_RESYNC_SECONDS),
        # Running: one second after the idle deadline, capped.
        (crd.PHASE_RUNNING, RunDecision(True, NOW, NOW + 2 * MINUTE, ""), 300, 121.0),
        (crd.PHASE_RUNNING, RunDecision(True, NOW, NOW + 20 * MINUTE, ""), 300, 300.0),
        (crd.PHASE_RUNNING, RunDecision(True, NOW, NOW - MINUTE, ""), 300, 1.0),
        # Nothing will change by itself: no resync.
        (crd.PHASE_RUNNING, RunDecision(True, NOW, None, ""), 300, None),
        (crd.PHASE_STOPPED, RunDecision(False, None, NOW, crd.STOPPED_BY_USER), 300, None),
    ],
)
def test_resync_after(phase: str, run: RunDecision, max_resync: int, expected: float | None) -> None:
    settings = replace(SETTINGS, max_resync_seconds=max_resync)
    assert workspace.resync_after(phase, run, now=NOW, settings=settings) == expected
