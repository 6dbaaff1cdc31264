"""The api's pure pieces: presenters, activity patches, the heartbeat decision, settings."""

from datetime import UTC, datetime

from api import presenters, prober
from common import activity, crd

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def test_heartbeat_newer_than_recorded_activity_is_recorded() -> None:
    ws = {"metadata": {"annotations": {crd.ANNOTATION_LAST_ACTIVITY: "2026-11-22T11:00:00Z"}}}
    beat = int(NOW.timestamp() * 1000) + 123
    patch = prober.heartbeat_activity(ws, {"status": "alive", "lastHeartbeat": beat}, NOW)
    assert patch == {
        "metadata": {
            "annotations": {
                crd.ANNOTATION_LAST_ACTIVITY: "2026-11-22T12:00:00Z",
                crd.ANNOTATION_LAST_ACTIVITY_SOURCE: "ide",
            }
        }
    }


def test_stale_expired_or_malformed_heartbeats_are_ignored() -> None:
    ws = {"metadata": {"annotations": {crd.ANNOTATION_LAST_ACTIVITY: "2026-11-22T12:00:00Z"}}}
    old = int(NOW.timestamp() * 1000)
    assert prober.heartbeat_activity(ws, {"status": "alive", "lastHeartbeat": old}, NOW) is None
    assert prober.heartbeat_activity(ws, {"status": "expired", "lastHeartbeat": old + 10**6}, NOW) is None
    junk: object
    for junk in (
        None,
        [],
        {"status": "alive"},
        {"status": "alive", "lastHeartbeat": "soon"},
        {"status": "alive", "lastHeartbeat": True},
        {"status": "alive", "lastHeartbeat": 1e300},
        {"status": "alive", "lastHeartbeat": 10**400},
    ):
        assert prober.heartbeat_activity(ws, junk, NOW) is None


def test_heartbeats_from_the_future_are_clamped_to_now() -> None:
    """A Workspace answering year 9999 must not push its last activity past today."""
    ws = {"metadata": {"annotations": {crd.ANNOTATION_LAST_ACTIVITY: "2026-11-22T11:00:00Z"}}}
    beat = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp() * 1000)
    patch = prober.heartbeat_activity(ws, {"status": "alive", "lastHeartbeat": beat}, NOW)
    assert patch is not None
    assert patch["metadata"]["annotations"][crd.ANNOTATION_LAST_ACTIVITY] == "2026-11-22T12:00:00Z"


def test_prober_uses_the_template_ide_port() -> None:
    assert prober.ide_port({"spec": {"ports": {"ide": 3000}}}) == 3000
    assert prober.ide_port({"spec": {}}) == prober.DEFAULT_IDE_PORT
    assert prober.ide_port({"spec": {"ports": {"ide": "3000"}}}) == prober.DEFAULT_IDE_PORT


def test_keep_alive_patch() -> None:
    patch = activity.keep_alive_patch(NOW, 3600)["metadata"]["annotations"]
    assert patch[crd.ANNOTATION_KEEP_ALIVE_UNTIL] == "2026-11-22T13:00:00Z"
    assert patch[crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "api"


def test_workspace_presenter_fills_defaults() -> None:
    shown = presenters.workspace({"metadata": {"name": "w"}, "spec": {"owner": "a", "template": "t"}})
    assert shown["phase"] == "Pending" and shown["running"] is True and shown["conditions"] == []
