"""Contract tests: request bodies recorded from the real Metacontroller v4.17.2 in the e2e runs
(tests/support/recorder.py, refreshed by tests/refresh_fixtures.py), replayed through the hooks app.

They check Metacontroller's side of the protocol (the request shape the hooks rely on) and the
shape of each answer against v2's strict response type. That the real controller accepts those
answers is checked end to end (tests/e2e/test_hook_protocol.py: no SyncError, and a malformed
answer is one); what the answers contain is the golden and table tests' job.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hooks import app as hooks_app
from hooks.reconcile import observed
from hooks.settings import Settings
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS, TEST_SEED

FIXTURES = Path(__file__).with_name("fixtures")
SETTINGS = Settings(secret_seed=TEST_SEED, gateway_public_key=GATEWAY_KEY, max_resync_seconds=MAX_RESYNC_SECONDS)
HOOK_REQUESTS = ["sync-first", "sync-running", "finalize-retain"]
# metacontroller pkg/controller/composite/api/v2 CompositeHookResponse, decoded strictly.
V2_RESPONSE: dict[str, type | tuple[type, ...]] = {
    "status": dict,
    "children": list,
    "resyncAfterSeconds": (int, float),
    "finalized": bool,
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def replay(record: dict) -> dict:
    client = hooks_app.create_app(SETTINGS, clock=lambda: datetime.now(UTC)).test_client()
    response = client.post(f"/{record['hook']}", json=record["request"])
    assert response.status_code == 200
    return dict(response.get_json())


@pytest.mark.parametrize("name", HOOK_REQUESTS)
def test_metacontroller_request_shape(name: str) -> None:
    request = fixture(name)["request"]
    assert set(request) == {"controller", "parent", "children", "related", "finalizing"}
    assert set(request["children"]) == set(observed.ALL_KINDS)  # one key per declared child type, even when empty
    for group in [*request["children"].values(), *request["related"].values()]:
        for key, obj in group.items():
            meta = obj["metadata"]
            # v2's UniformObjectMap: namespace/name for namespaced objects, name otherwise.
            assert key == (f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])
    assert request["controller"]["metadata"]["name"] == "cps1-workspaces"
    assert {hook["version"] for hook in request["controller"]["spec"]["hooks"].values()} == {"v2"}
    assert request["finalizing"] is (name == "finalize-retain")
    assert "WorkspaceTemplate.cps1.io/v1alpha1" in request["related"]


@pytest.mark.parametrize("name", HOOK_REQUESTS)
def test_answer_has_the_v2_response_shape(name: str) -> None:
    answer = replay(fixture(name))
    assert set(answer) <= set(V2_RESPONSE), set(answer) - set(V2_RESPONSE)
    for key, value in answer.items():
        assert isinstance(value, V2_RESPONSE[key]), key
    assert "children" in answer and "status" in answer
    for child in answer["children"]:
        assert child["apiVersion"] and child["kind"] and child["metadata"]["name"]
        assert child["kind"] == "Namespace" or child["metadata"]["namespace"]


@pytest.mark.parametrize("name", HOOK_REQUESTS)
def test_every_observed_home_volume_is_in_the_answer(name: str) -> None:
    record = fixture(name)
    answer = replay(record)
    kept = {(c["kind"], c["metadata"].get("namespace"), c["metadata"]["name"]) for c in answer["children"]}
    for pvc in record["request"]["children"][observed.PVC].values():
        assert ("PersistentVolumeClaim", pvc["metadata"]["namespace"], pvc["metadata"]["name"]) in kept


def test_customize_request_and_answer() -> None:
    record = fixture("customize")
    assert set(record["request"]) == {"controller", "parent"}
    answer = replay(record)
    assert set(answer) == {"relatedResources"}
    resources = {rule["resource"] for rule in answer["relatedResources"]}
    assert resources == {"workspacetemplates", "storageclasses", "namespaces", "secrets"}
