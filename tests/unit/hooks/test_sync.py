"""Table tests of the sync decision: observed children and inputs in, phase, conditions and
children out. Pure: no cluster."""

import base64
import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from common import crd
from common.timefmt import format_time
from hooks.reconcile import observed, workspace
from tests.unit.hooks import factories
from tests.unit.hooks.factories import NOW, SETTINGS, children_map, parent, related, stored


def conds(status: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def kinds(answer: Mapping[str, Any]) -> list[str]:
    return sorted(c["kind"] for c in answer["children"])


def test_first_sync_creates_the_namespace_only(python_template: dict) -> None:
    answer = workspace.sync(parent(), children_map([]), related(python_template), now=NOW, settings=SETTINGS)
    assert kinds(answer) == ["Namespace"]
    assert answer["status"]["phase"] == crd.PHASE_PENDING
    assert answer["resyncAfterSeconds"] > 0


def test_deployment_waits_for_its_prerequisites(python_template: dict) -> None:
    first = workspace.sync(parent(), children_map([]), related(python_template), now=NOW, settings=SETTINGS)
    second = workspace.sync(
        parent(),
        children_map([stored(c) for c in first["children"]]),
        related(python_template),
        now=NOW,
        settings=SETTINGS,
    )
    assert "Deployment" not in kinds(second)
    assert "ResourceQuota" in kinds(second) and "PersistentVolumeClaim" in kinds(second)
    third = workspace.sync(
        parent(),
        children_map([stored(c) for c in second["children"]]),
        related(python_template),
        now=NOW,
        settings=SETTINGS,
    )
    assert "Deployment" in kinds(third)


def test_converged_workspace_is_running(python_template: dict) -> None:
    answer, _ = factories.converged(parent(), python_template)
    status = answer["status"]
    assert status["phase"] == crd.PHASE_RUNNING
    assert conds(status) == {
        "TemplateResolved": ("True", "Resolved"),
        "StorageReady": ("True", "Bound"),
        "Ready": ("True", "Available"),
        "UpdatePending": ("False", "UpToDate"),
        "PortsAllowed": ("True", "AsDeclared"),
    }
    assert status["namespace"] == "ws-alice-dev"
    assert status["sshCommand"] == "ssh -p 2222 alice-dev@127.0.0.1"
    assert status["stoppedReason"] == ""
    assert "resyncAfterSeconds" in answer  # the idle deadline
    secret = next(c for c in answer["children"] if c["kind"] == "Secret")
    published = base64.b64decode(secret["data"]["ssh_host_ed25519_key.pub"]).decode().strip()
    assert status["sshHostKey"] == published and published.startswith("ssh-ed25519 ")


@pytest.mark.parametrize(
    ("deploy_status", "replicas", "phase", "ready_reason"),
    [
        ({"observedGeneration": 1, "replicas": 1, "availableReplicas": 1}, 1, "Running", "Available"),
        ({"observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1}, 1, "Starting", "Starting"),
        ({"observedGeneration": 0, "availableReplicas": 1}, 1, "Starting", "Starting"),
        (
            {
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "ReplicaSet has timed out progressing.",
                    }
                ]
            },
            1,
            "Failed",
            "StartFailed",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "reason": "FailedCreate",
                        "message": "exceeded quota: workspace",
                    }
                ]
            },
            1,
            "Failed",
            "StartFailed",
        ),
    ],
)
def test_phase_follows_the_deployment(
    python_template: dict, deploy_status: dict, replicas: int, phase: str, ready_reason: str
) -> None:
    _, children = factories.converged(parent(), python_template)
    deploy = children[observed.DEPLOYMENT]["ws-alice-dev/workspace"]
    deploy["spec"]["replicas"] = replicas
    deploy["status"] = deploy_status
    answer = workspace.sync(parent(), children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == phase
    assert conds(answer["status"])["Ready"][1] == ready_reason


def test_stopping_then_stopped_keeps_volume_secret_and_namespace(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    stopped = parent(running=False)
    answer = workspace.sync(stopped, children, related(python_template), now=NOW, settings=SETTINGS)
    deploy = next(c for c in answer["children"] if c["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 0
    assert answer["status"]["phase"] == crd.PHASE_STOPPING
    assert answer["status"]["stoppedReason"] == crd.STOPPED_BY_USER
    assert {"PersistentVolumeClaim", "Secret", "Namespace"} <= set(kinds(answer))
    children[observed.DEPLOYMENT]["ws-alice-dev/workspace"]["spec"]["replicas"] = 0
    children[observed.DEPLOYMENT]["ws-alice-dev/workspace"]["status"] = {"observedGeneration": 1}
    answer = workspace.sync(stopped, children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == crd.PHASE_STOPPED
    assert conds(answer["status"])["Ready"] == ("False", crd.STOPPED_BY_USER)


def test_missing_template_fails_and_keeps_every_child(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    answer = workspace.sync(parent(), children, related(), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == crd.PHASE_FAILED
    assert conds(answer["status"])["TemplateResolved"] == ("False", "TemplateNotFound")
    assert "'python' does not exist" in answer["status"]["message"]
    sent = {(c["kind"], c["metadata"]["name"]) for c in answer["children"]}
    seen = {(c["kind"], c["metadata"]["name"]) for c in observed.all_children(children)}
    assert sent == seen
    pvc = next(c for c in answer["children"] if c["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"  # as last applied


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"cpu": "16"}, "'cpu' must be at most 4"),
        ({"cpu": "lots"}, "'lots' is not a quantity"),
        ({"pythonVersion": "2.7"}, "must be one of 3.11, 3.12"),
        ({"colour": "blue"}, "'colour' is not defined by the template"),
    ],
)
def test_invalid_parameters_fail_with_a_readable_message(python_template: dict, params: dict, fragment: str) -> None:
    _, children = factories.converged(parent(), python_template)
    answer = workspace.sync(parent(parameters=params), children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == crd.PHASE_FAILED
    assert conds(answer["status"])["TemplateResolved"] == ("False", "InvalidParameters")
    assert fragment in answer["status"]["message"]
    assert "PersistentVolumeClaim" in kinds(answer)


def test_template_change_is_held_back_while_running(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    changed = copy.deepcopy(python_template)
    changed["spec"]["image"] = "cps1/workspace-python:0.2.0"
    answer = workspace.sync(parent(), children, related(changed), now=NOW, settings=SETTINGS)
    deploy = next(c for c in answer["children"] if c["kind"] == "Deployment")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "cps1/workspace-python:0.1.0"
    assert answer["status"]["updatePending"] is True
    assert conds(answer["status"])["UpdatePending"] == ("True", "TemplateChanged")
    # Stopped, the new revision applies.
    answer = workspace.sync(parent(running=False), children, related(changed), now=NOW, settings=SETTINGS)
    deploy = next(c for c in answer["children"] if c["kind"] == "Deployment")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "cps1/workspace-python:0.2.0"
    assert answer["status"]["updatePending"] is False


def with_activity(obj: dict, when: str, source: str = "ssh") -> dict:
    obj["metadata"]["annotations"] = {crd.ANNOTATION_LAST_ACTIVITY: when, crd.ANNOTATION_LAST_ACTIVITY_SOURCE: source}
    return obj


def test_idle_workspace_is_stopped_without_touching_spec(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    idle_parent = with_activity(parent(idleTimeoutSeconds=600), "2026-11-22T11:58:00Z")
    answer = workspace.sync(
        idle_parent, children, related(python_template), now=NOW + timedelta(minutes=7), settings=SETTINGS
    )
    assert answer["status"]["stoppedReason"] == ""  # 11:58 + 10 min is 12:08
    answer = workspace.sync(
        idle_parent, children, related(python_template), now=NOW + timedelta(minutes=8), settings=SETTINGS
    )
    deploy = next(c for c in answer["children"] if c["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 0
    assert answer["status"]["stoppedReason"] == crd.STOPPED_BY_IDLE
    assert idle_parent["spec"]["running"] is True


def test_fresh_activity_brings_an_idle_workspace_back(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    fresh = with_activity(parent(idleTimeoutSeconds=600), "2026-11-22T11:59:00Z")
    fresh["status"] = {"stoppedReason": crd.STOPPED_BY_IDLE, "lastStartTime": "2026-11-22T11:00:00Z"}
    answer = workspace.sync(fresh, children, related(python_template), now=NOW, settings=SETTINGS)
    deploy = next(c for c in answer["children"] if c["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 1
    assert answer["status"]["stoppedReason"] == ""
    assert answer["status"]["lastStartTime"] == "2026-11-22T12:00:00Z"
    assert answer["resyncAfterSeconds"] == 300  # the cap; the idle deadline is 12:09
    patient = replace(SETTINGS, max_resync_seconds=3600)
    assert (
        workspace.sync(fresh, children, related(python_template), now=NOW, settings=patient)["resyncAfterSeconds"]
        == 541
    )


def test_keep_alive_outlasts_the_idle_timeout(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    busy = with_activity(parent(idleTimeoutSeconds=600), "2026-11-22T10:00:00Z")
    busy["metadata"]["annotations"][crd.ANNOTATION_KEEP_ALIVE_UNTIL] = "2026-11-22T14:00:00Z"
    answer = workspace.sync(busy, children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["stoppedReason"] == ""
    later = workspace.sync(busy, children, related(python_template), now=NOW + timedelta(hours=3), settings=SETTINGS)
    assert later["status"]["stoppedReason"] == crd.STOPPED_BY_IDLE


def test_user_restart_after_a_long_stop_is_not_idle(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    restarted = with_activity(parent(idleTimeoutSeconds=600), "2026-11-20T10:00:00Z")
    restarted["status"] = {"stoppedReason": crd.STOPPED_BY_USER, "lastStartTime": "2026-11-20T09:00:00Z"}
    answer = workspace.sync(restarted, children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["stoppedReason"] == ""
    assert answer["status"]["lastStartTime"] == "2026-11-22T12:00:00Z"


def test_the_idle_clock_waits_for_a_slow_start(python_template: dict) -> None:
    """A start slower than the idle timeout (a long image pull, a loaded node) is not stopped
    as it becomes Ready: the timeout counts from Ready."""
    answer, children = factories.converged(parent(idleTimeoutSeconds=600), python_template)
    starting = parent(idleTimeoutSeconds=600)
    starting["status"] = {**answer["status"], "phase": crd.PHASE_STARTING, "conditions": []}
    became_ready = NOW + timedelta(minutes=15)  # started at NOW, ten minutes of timeout ago
    ready = workspace.sync(starting, children, related(python_template), now=became_ready, settings=SETTINGS)
    assert (ready["status"]["phase"], ready["status"]["stoppedReason"]) == (crd.PHASE_RUNNING, "")
    patient = replace(SETTINGS, max_resync_seconds=3600)
    again = workspace.sync(starting, children, related(python_template), now=became_ready, settings=patient)
    assert again["resyncAfterSeconds"] == 601  # just after the idle deadline, counted from Ready
    running = parent(idleTimeoutSeconds=600)
    running["status"] = ready["status"]

    def stopped_reason(minutes: float) -> str:
        now = became_ready + timedelta(minutes=minutes)
        return workspace.sync(running, children, related(python_template), now=now, settings=SETTINGS)["status"][
            "stoppedReason"
        ]

    assert stopped_reason(9) == ""
    assert stopped_reason(10.1) == crd.STOPPED_BY_IDLE


def test_transition_times_survive_unchanged_conditions(python_template: dict) -> None:
    answer, children = factories.converged(parent(), python_template)
    again = parent()
    again["status"] = answer["status"]
    later = workspace.sync(again, children, related(python_template), now=NOW + timedelta(minutes=5), settings=SETTINGS)
    assert later["status"]["conditions"] == answer["status"]["conditions"]
    assert later["status"] == answer["status"]


def test_storage_only_grows(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    children[observed.PVC]["ws-alice-dev/home"]["spec"]["resources"]["requests"]["storage"] = "50Gi"
    answer = workspace.sync(parent(), children, related(python_template), now=NOW, settings=SETTINGS)
    pvc = next(c for c in answer["children"] if c["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "50Gi"


def test_volume_grows_only_where_the_storage_class_allows_it(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    children[observed.PVC]["ws-alice-dev/home"]["spec"]["storageClassName"] = "standard"
    bigger = parent(storage={"size": "30Gi"})
    fixed = {"StorageClass.storage.k8s.io/v1": {"standard": {"metadata": {"name": "standard"}}}}
    answer = workspace.sync(bigger, children, {**related(python_template), **fixed}, now=NOW, settings=SETTINGS)
    pvc = next(c for c in answer["children"] if c["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert conds(answer["status"])["StorageReady"] == ("True", "ResizeUnsupported")
    assert "does not allow growing it to 30Gi" in next(
        c["message"] for c in answer["status"]["conditions"] if c["type"] == "StorageReady"
    )
    growable = {"StorageClass.storage.k8s.io/v1": {"standard": {"allowVolumeExpansion": True}}}
    answer = workspace.sync(bigger, children, {**related(python_template), **growable}, now=NOW, settings=SETTINGS)
    pvc = next(c for c in answer["children"] if c["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "30Gi"
    assert conds(answer["status"])["StorageReady"] == ("True", "Bound")


def test_secret_values_are_read_back_from_the_observed_secret(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    children[observed.SECRET]["ws-alice-dev/workspace"]["data"]["password"] = "a2VwdA=="
    answer = workspace.sync(parent(), children, related(python_template), now=NOW, settings=SETTINGS)
    secret = next(c for c in answer["children"] if c["kind"] == "Secret")
    assert secret["data"]["password"] == "a2VwdA=="


def test_finalize_deletes_everything_then_finishes(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    answer = workspace.finalize(parent(), children)
    assert answer["children"] == [] and answer["finalized"] is False
    assert answer["status"]["phase"] == crd.PHASE_TERMINATING
    done = workspace.finalize(parent(), children_map([]))
    assert done["finalized"] is True


def test_finalize_with_retain_releases_namespace_and_volume_in_two_steps(python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    keep = parent(storage={"onDelete": "Retain"})
    first = workspace.finalize(keep, children)
    assert kinds(first) == ["Namespace", "PersistentVolumeClaim"]
    assert all(c["metadata"]["ownerReferences"] for c in first["children"])
    # Metacontroller records that answer as last applied; the next one drops the references.
    for child in first["children"]:
        key = observed.child_key(child)
        name = child["metadata"]["name"]
        inner = f"{child['metadata']['namespace']}/{name}" if child["metadata"].get("namespace") else name
        children[key][inner] = stored(child)
    second = workspace.finalize(keep, children)
    assert kinds(second) == ["Namespace", "PersistentVolumeClaim"]
    assert all("ownerReferences" not in c["metadata"] for c in second["children"])


def test_template_placement_reaches_the_pod(python_template: dict) -> None:
    """nodeSelector and tolerations are the template's (an admin's choice of nodes); a template
    without them leaves placement to the scheduler."""
    plain, _ = factories.converged(parent(), python_template)
    pod = next(c for c in plain["children"] if c["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    placed = copy.deepcopy(python_template)
    placed["spec"]["nodeSelector"] = {"pool": "gpu"}
    placed["spec"]["tolerations"] = [{"key": "pool", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    answer, _ = factories.converged(parent(), placed)
    pod = next(c for c in answer["children"] if c["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"] == placed["spec"]["tolerations"]


def test_namespace_retained_by_an_earlier_workspace_fails_readably(python_template: dict) -> None:
    """The name's namespace exists, unowned (kept by onDelete: Retain): nothing is created, the
    Workspace says why, and it proceeds once an admin has removed the namespace."""
    leftover: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ws-alice-dev", "uid": "old"},
    }
    seen: dict[str, Any] = {**related(python_template), observed.NAMESPACE: {"ws-alice-dev": leftover}}
    answer = workspace.sync(parent(), children_map([]), seen, now=NOW, settings=SETTINGS)
    assert answer["children"] == []
    assert answer["status"]["phase"] == crd.PHASE_FAILED
    assert conds(answer["status"])["Ready"] == ("False", "NamespaceRetained")
    assert conds(answer["status"])["TemplateResolved"] == ("True", "Resolved")
    assert "kubectl delete namespace ws-alice-dev" in answer["status"]["message"]
    # Our own namespace, seen as related before the children informer has it, is no conflict.
    ours = copy.deepcopy(leftover)
    ours["metadata"]["ownerReferences"] = [{"uid": parent()["metadata"]["uid"]}]
    seen[observed.NAMESPACE] = {"ws-alice-dev": ours}
    assert (
        workspace.sync(parent(), children_map([]), seen, now=NOW, settings=SETTINGS)["status"]["phase"]
        == crd.PHASE_PENDING
    )


def test_idle_policy_ignores_activity_far_in_the_future() -> None:
    """A heartbeat or annotation in year 9999 neither keeps the Workspace alive for ever nor
    overflows the deadline arithmetic; a little clock skew counts as now."""
    from hooks.reconcile import idle

    def deadline(last: str) -> object:
        ws = {"metadata": {"annotations": {"cps1.io/last-activity": last}}}
        return idle.idle_deadline(idle.activity_of(ws, NOW), None, NOW - timedelta(hours=2), None, 3600, NOW)

    assert deadline("9999-12-31T23:59:59Z") == NOW - timedelta(hours=1)
    assert deadline(format_time(NOW + timedelta(minutes=2))) == NOW + timedelta(hours=1)
    ws: dict[str, Any] = {"metadata": {"annotations": {}}}
    assert idle.idle_deadline(idle.activity_of(ws, NOW), NOW, None, None, 10**30, NOW) is None


def test_a_workspace_over_its_template_maxima_fails_readably(python_template: dict) -> None:
    python_template["spec"]["storage"]["maxSize"] = "20Gi"
    python_template["spec"]["maxIdleTimeoutSeconds"] = 7200
    body = parent(storage={"size": "999999Ei"}, idleTimeoutSeconds=0)
    answer = workspace.sync(body, children_map([]), related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == "Failed"
    assert (
        "above this template's maximum of 20Gi" in answer["status"]["message"]
        or "out of range" in answer["status"]["message"]
    )
    assert "0 (never) is not allowed" in answer["status"]["message"]
