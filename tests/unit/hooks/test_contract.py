"""Contract tests: request bodies recorded from the real Metacontroller in the e2e runs
(tests/e2e/recorder.py), replayed through the hooks app. The answers must match what the
hooks answered live, and every body must have the shape the hooks rely on."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from common.timefmt import parse_time
from hooks import app as hooks_app
from hooks.render import observed
from hooks.settings import Settings
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS, TEST_SEED

FIXTURES = Path(__file__).with_name("fixtures")
SETTINGS = Settings(secret_seed=TEST_SEED, gateway_public_key=GATEWAY_KEY, max_resync_seconds=MAX_RESYNC_SECONDS)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def replay(record: dict, now: datetime) -> dict:
    client = hooks_app.create_app(SETTINGS, clock=lambda: now).test_client()
    response = client.post(f"/{record['hook']}", json=record["request"])
    assert response.status_code == record["code"] == 200
    return dict(response.get_json())


@pytest.mark.parametrize("name", ["sync-first", "sync-running", "finalize-retain"])
def test_metacontroller_request_shape(name: str) -> None:
    request = fixture(name)["request"]
    assert set(request) == {"controller", "parent", "children", "related", "finalizing"}
    assert set(request["children"]) == set(observed.ALL_KINDS)  # one key per declared child type, even when empty
    for group in request["children"].values():
        for key, obj in group.items():
            meta = obj["metadata"]
            assert key == (f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])
    assert request["controller"]["metadata"]["name"] == "cps1-workspaces"
    assert request["finalizing"] is (name == "finalize-retain")


def test_first_sync_answer_is_reproduced() -> None:
    record = fixture("sync-first")
    created = parse_time(record["request"]["parent"]["metadata"]["creationTimestamp"])
    assert created is not None
    answer = replay(record, created)
    assert answer["children"] == record["answer"]["children"]
    assert answer["status"]["phase"] == record["answer"]["status"]["phase"] == "Pending"


def test_running_sync_answer_is_reproduced_exactly() -> None:
    record = fixture("sync-running")
    started = parse_time(record["answer"]["status"]["lastStartTime"])
    assert started is not None
    answer = replay(record, started)
    answer.pop("resyncAfterSeconds")
    expected = dict(record["answer"])
    expected.pop("resyncAfterSeconds")
    assert answer == expected


def test_finalize_answer_is_reproduced() -> None:
    record = fixture("finalize-retain")
    answer = replay(record, datetime.now().astimezone())
    assert answer["children"] == record["answer"]["children"]
    assert answer["finalized"] == record["answer"]["finalized"]


def test_customize_answer_is_reproduced() -> None:
    record = fixture("customize")
    assert replay(record, datetime.now().astimezone()) == record["answer"]
