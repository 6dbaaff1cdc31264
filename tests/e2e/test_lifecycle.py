"""The Workspace lifecycle under the real Metacontroller calling the hooks under gunicorn."""

import base64
import calendar
import time
from collections.abc import Iterator

import pytest

import kubeclient as kube
from common import crd
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS
from tests.support import workspaces as ws
from tests.support.cluster import Env, found, wait_until

CHILDREN = [
    ("v1", "Namespace", None),
    ("v1", "ServiceAccount", "workspace"),
    ("v1", "ResourceQuota", "workspace"),
    ("v1", "LimitRange", "workspace"),
    ("networking.k8s.io/v1", "NetworkPolicy", "workspace"),
    ("v1", "Secret", "workspace"),
    ("v1", "PersistentVolumeClaim", "home"),
    ("apps/v1", "Deployment", "workspace"),
    ("v1", "Service", "workspace"),
    ("networking.k8s.io/v1", "Ingress", "workspace"),
]


@pytest.fixture
def cleanup(env: Env) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        ws.delete(env, name)
    for name in names:
        ws.wait_gone(env, name)


@pytest.fixture(scope="module")
def base_template(env: Env) -> str:
    ws.template(env, "e2e-python")
    return "e2e-python"


def uid(obj: dict | None) -> str:
    assert obj is not None
    return str(obj["metadata"]["uid"])


def test_create_runs_with_every_child(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-create")
    ws.workspace(env, "life-create", base_template, parameters={"cpu": "2"})
    status = ws.wait_phase(env, "life-create", crd.PHASE_RUNNING)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "TemplateResolved": "True",
        "StorageReady": "True",
        "Ready": "True",
        "UpdatePending": "False",
        "PortsAllowed": "True",
    }
    assert status["namespace"] == "ws-life-create"
    assert status["observedGeneration"] == 1
    for api_version, kind, name in CHILDREN:
        obj = ws.child(env, "life-create", api_version, kind, name or "ws-life-create")
        assert obj is not None, kind
        assert obj["metadata"]["labels"]["cps1.io/workspace"] == "life-create"
    namespace = found(ws.child(env, "life-create", "v1", "Namespace", "ws-life-create"))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    secret = found(ws.child(env, "life-create", "v1", "Secret", "workspace"))
    assert base64.b64decode(secret["data"]["authorized_keys"]).decode().strip() == GATEWAY_KEY
    pods = kube.resource(env.client, "v1", "Pod").get(namespace="ws-life-create").to_dict()["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running"
    assert pods[0]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2"


def test_stop_keeps_data_and_start_reuses_the_same_volume(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-stop")
    ws.workspace(env, "life-stop", base_template)
    ws.wait_phase(env, "life-stop", crd.PHASE_RUNNING)
    pvc, secret = (
        uid(ws.child(env, "life-stop", "v1", k, n))
        for k, n in (("PersistentVolumeClaim", "home"), ("Secret", "workspace"))
    )
    ws.patch(env, "life-stop", {"spec": {"running": False}})
    status = ws.wait_phase(env, "life-stop", crd.PHASE_STOPPED)
    assert status["stoppedReason"] == crd.STOPPED_BY_USER
    assert found(ws.child(env, "life-stop", "apps/v1", "Deployment", "workspace"))["spec"]["replicas"] == 0
    wait_until(
        lambda: not kube.resource(env.client, "v1", "Pod").get(namespace="ws-life-stop").to_dict()["items"],
        what="no pods left",
    )
    assert uid(ws.child(env, "life-stop", "v1", "PersistentVolumeClaim", "home")) == pvc
    assert uid(ws.child(env, "life-stop", "v1", "Secret", "workspace")) == secret
    ws.patch(env, "life-stop", {"spec": {"running": True}})
    status = ws.wait_phase(env, "life-stop", crd.PHASE_RUNNING)
    assert status["stoppedReason"] == ""
    assert uid(ws.child(env, "life-stop", "v1", "PersistentVolumeClaim", "home")) == pvc


def test_delete_removes_everything(env: Env, base_template: str) -> None:
    ws.workspace(env, "life-delete", base_template)
    ws.wait_phase(env, "life-delete", crd.PHASE_RUNNING)
    volume = found(ws.child(env, "life-delete", "v1", "PersistentVolumeClaim", "home"))["spec"]["volumeName"]
    ws.delete(env, "life-delete")
    ws.wait_gone(env, "life-delete")
    wait_until(lambda: kube.get(env.client, "v1", "PersistentVolume", volume) is None, what="the volume deleted")


def test_delete_with_retain_keeps_the_volume(env: Env, base_template: str) -> None:
    ws.workspace(env, "life-retain", base_template, storage={"onDelete": "Retain"})
    ws.wait_phase(env, "life-retain", crd.PHASE_RUNNING)
    pvc = uid(ws.child(env, "life-retain", "v1", "PersistentVolumeClaim", "home"))
    ws.delete(env, "life-retain")
    wait_until(lambda: not ws.get(env, "life-retain"), 60, what="the Workspace gone")
    wait_until(
        lambda: ws.child(env, "life-retain", "apps/v1", "Deployment", "workspace") is None, what="deployment gone"
    )
    kept = found(ws.child(env, "life-retain", "v1", "PersistentVolumeClaim", "home"))
    assert uid(kept) == pvc and not kept["metadata"].get("ownerReferences")
    namespace = ws.child(env, "life-retain", "v1", "Namespace", "ws-life-retain")
    assert namespace is not None and not namespace["metadata"].get("ownerReferences")
    assert ws.child(env, "life-retain", "v1", "Secret", "workspace") is None
    # The name cannot be reused while its data is kept: a readable failure, nothing adopted.
    ws.workspace(env, "life-retain", base_template)
    status = ws.wait_phase(env, "life-retain", crd.PHASE_FAILED)
    assert ws.condition(env, "life-retain", "Ready")["reason"] == "NamespaceRetained"
    assert "kubectl delete namespace ws-life-retain" in status["message"]
    assert uid(ws.child(env, "life-retain", "v1", "PersistentVolumeClaim", "home")) == pvc
    # Once an admin removed it, the new Workspace starts afresh (new volume).
    kube.resource(env.client, "v1", "Namespace").delete(name="ws-life-retain")
    ws.wait_phase(env, "life-retain", crd.PHASE_RUNNING, timeout=120)
    assert uid(ws.child(env, "life-retain", "v1", "PersistentVolumeClaim", "home")) != pvc
    ws.delete(env, "life-retain")
    ws.wait_gone(env, "life-retain")


def test_missing_template_fails_then_recovers(env: Env, cleanup: list[str]) -> None:
    cleanup.append("life-late")
    ws.workspace(env, "life-late", "late-template")
    status = ws.wait_phase(env, "life-late", crd.PHASE_FAILED)
    assert "workspace template 'late-template' does not exist" in status["message"]
    assert ws.condition(env, "life-late", "TemplateResolved")["reason"] == "TemplateNotFound"
    ws.template(env, "late-template")
    try:
        ws.wait_phase(env, "life-late", crd.PHASE_RUNNING)
    finally:
        ws.delete(env, "late-template", "WorkspaceTemplate")


def test_invalid_parameters_fail_keep_children_and_recover(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-params")
    ws.workspace(env, "life-params", base_template)
    ws.wait_phase(env, "life-params", crd.PHASE_RUNNING)
    pvc = uid(ws.child(env, "life-params", "v1", "PersistentVolumeClaim", "home"))
    ws.patch(env, "life-params", {"spec": {"parameters": {"cpu": "64"}}})
    status = ws.wait_phase(env, "life-params", crd.PHASE_FAILED)
    assert "parameter 'cpu' must be at most 4, got 64" in status["message"]
    ws.wait_syncs(env, "life-params", 2)  # Failed answers came and went; nothing was removed
    assert uid(ws.child(env, "life-params", "v1", "PersistentVolumeClaim", "home")) == pvc
    assert found(ws.child(env, "life-params", "apps/v1", "Deployment", "workspace"))["spec"]["replicas"] == 1
    ws.patch(env, "life-params", {"spec": {"parameters": {"cpu": "1"}}})
    ws.wait_phase(env, "life-params", crd.PHASE_RUNNING)
    assert uid(ws.child(env, "life-params", "v1", "PersistentVolumeClaim", "home")) == pvc


def image_of(env: Env, name: str) -> str:
    deploy = found(ws.child(env, name, "apps/v1", "Deployment", "workspace"))
    return str(deploy["spec"]["template"]["spec"]["containers"][0]["image"])


def test_template_change_waits_for_the_next_start(env: Env, cleanup: list[str]) -> None:
    cleanup.append("life-update")
    ws.template(env, "e2e-update")
    ws.workspace(env, "life-update", "e2e-update")
    ws.wait_phase(env, "life-update", crd.PHASE_RUNNING)
    ws.patch(env, "e2e-update", {"spec": {"image": "cps1/workspace-python:0.2.0"}}, kind="WorkspaceTemplate")
    wait_until(lambda: ws.status(env, "life-update").get("updatePending"), what="update pending")
    assert image_of(env, "life-update") == "cps1/workspace-python:0.1.0"
    assert ws.status(env, "life-update")["phase"] == crd.PHASE_RUNNING
    ws.patch(env, "life-update", {"spec": {"running": False}})
    ws.wait_phase(env, "life-update", crd.PHASE_STOPPED)
    ws.patch(env, "life-update", {"spec": {"running": True}})
    ws.wait_phase(env, "life-update", crd.PHASE_RUNNING)
    assert image_of(env, "life-update") == "cps1/workspace-python:0.2.0"
    assert ws.status(env, "life-update")["updatePending"] is False
    ws.delete(env, "e2e-update", "WorkspaceTemplate")


def test_drift_is_put_back(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-drift")
    ws.workspace(env, "life-drift", base_template)
    ws.wait_phase(env, "life-drift", crd.PHASE_RUNNING)
    ns = "ws-life-drift"
    password = found(ws.child(env, "life-drift", "v1", "Secret", "workspace"))["data"]["password"]
    kube.resource(env.client, "apps/v1", "Deployment").patch(
        name="workspace", namespace=ns, body={"spec": {"replicas": 3}}, content_type="application/merge-patch+json"
    )
    kube.resource(env.client, "v1", "ResourceQuota").patch(
        name="workspace",
        namespace=ns,
        body={"spec": {"hard": {"pods": "100"}}},
        content_type="application/merge-patch+json",
    )
    kube.resource(env.client, "networking.k8s.io/v1", "NetworkPolicy").delete(name="workspace", namespace=ns)
    kube.resource(env.client, "v1", "Secret").delete(name="workspace", namespace=ns)
    wait_until(
        lambda: (ws.child(env, "life-drift", "apps/v1", "Deployment", "workspace") or {})["spec"]["replicas"] == 1,
        what="replicas back to 1",
    )
    wait_until(
        lambda: (ws.child(env, "life-drift", "v1", "ResourceQuota", "workspace") or {})["spec"]["hard"]["pods"] == "4",
        what="quota restored",
    )
    wait_until(
        lambda: ws.child(env, "life-drift", "networking.k8s.io/v1", "NetworkPolicy", "workspace"), what="policy back"
    )
    secret = wait_until(lambda: ws.child(env, "life-drift", "v1", "Secret", "workspace"), what="secret back")
    assert secret["data"]["password"] == password  # derived, so the same after a re-create


def test_idle_workspace_stops_and_activity_brings_it_back(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-idle")
    ws.workspace(env, "life-idle", base_template, idleTimeoutSeconds=4)
    ws.wait_phase(env, "life-idle", crd.PHASE_RUNNING)
    status = ws.wait_phase(env, "life-idle", crd.PHASE_STOPPED, timeout=30)
    assert status["stoppedReason"] == crd.STOPPED_BY_IDLE
    assert ws.get(env, "life-idle")["spec"]["running"] is True  # spec untouched: no GitOps drift
    ws.patch(
        env,
        "life-idle",
        {
            "metadata": {
                "annotations": {crd.ANNOTATION_LAST_ACTIVITY: ws.now_text(), crd.ANNOTATION_LAST_ACTIVITY_SOURCE: "ssh"}
            }
        },
    )
    status = ws.wait_phase(env, "life-idle", crd.PHASE_RUNNING)
    assert status["lastActivitySource"] == "ssh"


def test_keep_alive_is_honoured(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-keep")
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    body = {
        "apiVersion": ws.API,
        "kind": "Workspace",
        "metadata": {"name": "life-keep", "annotations": {crd.ANNOTATION_KEEP_ALIVE_UNTIL: until}},
        "spec": {"owner": "alice", "template": base_template, "idleTimeoutSeconds": 2},
    }
    kube.apply(env.client, body)
    ws.wait_phase(env, "life-keep", crd.PHASE_RUNNING)
    created = ws.get(env, "life-keep")["metadata"]["creationTimestamp"]
    deadline = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) + 3
    wait_until(lambda: time.time() > deadline, what="the 2 s idle timeout to pass")
    # A sync after the idle deadline (an unrelated annotation asks for one) keeps it running.
    ws.patch(env, "life-keep", {"metadata": {"annotations": {"cps1.io/test-touch": "after-deadline"}}})
    ws.wait_syncs(env, "life-keep", 1)
    assert ws.status(env, "life-keep")["phase"] == crd.PHASE_RUNNING


def test_status_is_stable_when_nothing_changes(env: Env, base_template: str, cleanup: list[str]) -> None:
    """Quiet means quiet: syncs keep coming (the resync), and none of them writes anything."""
    cleanup.append("life-quiet")
    ws.workspace(env, "life-quiet", base_template)
    ws.wait_phase(env, "life-quiet", crd.PHASE_RUNNING)

    def versions() -> dict[str, str]:
        objects = {
            kind: ws.child(env, "life-quiet", api, kind, name or "ws-life-quiet") for api, kind, name in CHILDREN
        }
        objects["Workspace"] = ws.get(env, "life-quiet")
        return {kind: obj["metadata"]["resourceVersion"] for kind, obj in objects.items() if obj}

    def syncs() -> list[dict]:
        return [r for r in env.recorder.records("sync") if r["request"]["parent"]["metadata"]["name"] == "life-quiet"]

    # Settled: the Deployment's status (written by the controller manager) stops moving.
    previous: list[dict[str, str]] = [{}]

    def settled() -> bool:
        now = versions()
        stable, previous[0] = now == previous[0], now
        return stable and len(now) == len(CHILDREN) + 1

    wait_until(settled, 30, interval=1, what="the workspace's objects to settle")
    before, seen = versions(), len(syncs())
    # At least two syncs past this point (the second is a resync: nothing else moves them).
    wait_until(lambda: len(syncs()) >= seen + 2, MAX_RESYNC_SECONDS * 2 + 10, interval=1, what="two more syncs")
    assert versions() == before
    assert {r["answer"]["status"]["phase"] for r in syncs()[seen:]} == {crd.PHASE_RUNNING}


def test_hooks_restarted_mid_run_lose_nothing(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup += ["life-restart-a", "life-restart-b"]
    ws.workspace(env, "life-restart-a", base_template)
    ws.wait_phase(env, "life-restart-a", crd.PHASE_RUNNING)
    pvc = uid(ws.child(env, "life-restart-a", "v1", "PersistentVolumeClaim", "home"))
    env.hooks.stop()
    env.cluster.procs.remove(env.hooks)
    try:
        ws.patch(env, "life-restart-a", {"spec": {"running": False}})
        ws.workspace(env, "life-restart-b", base_template)

        # Metacontroller kept calling (and failing) in this window: customize first, for a
        # new generation, then sync.
        def failed_calls() -> int:
            calls = env.recorder.records("customize") + env.recorder.records("sync")
            return len([r for r in calls if r["code"] == 502])

        failed = failed_calls()
        wait_until(lambda: failed_calls() >= failed + 2, what="Metacontroller's calls to fail while the hooks are down")
        # While the hooks are down nothing changes and nothing is deleted.
        assert uid(ws.child(env, "life-restart-a", "v1", "PersistentVolumeClaim", "home")) == pvc
        assert found(ws.child(env, "life-restart-a", "apps/v1", "Deployment", "workspace"))["spec"]["replicas"] == 1
    finally:
        env.cluster.launch(env.hooks)
    ws.wait_phase(env, "life-restart-a", crd.PHASE_STOPPED, timeout=90)
    ws.wait_phase(env, "life-restart-b", crd.PHASE_RUNNING, timeout=90)
    assert uid(ws.child(env, "life-restart-a", "v1", "PersistentVolumeClaim", "home")) == pvc


def test_children_are_created_namespace_first(env: Env, base_template: str, cleanup: list[str]) -> None:
    cleanup.append("life-order")
    ws.workspace(env, "life-order", base_template)
    ws.wait_phase(env, "life-order", crd.PHASE_RUNNING)
    answers = [
        r["answer"]
        for r in env.recorder.records("sync")
        if r["request"]["parent"]["metadata"]["name"] == "life-order" and r["code"] == 200
    ]
    waves: list[frozenset[str]] = []
    for answer in answers:
        wave = frozenset(c["kind"] for c in answer["children"])
        if not waves or waves[-1] != wave:
            waves.append(wave)
    assert waves[0] == {"Namespace"}
    assert "ResourceQuota" in waves[1] and "Deployment" not in waves[1]
    assert "Deployment" in waves[2]
