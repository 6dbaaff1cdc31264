"""Phase colours, durations and the table row of a Workspace."""

from datetime import UTC, datetime

import pytest

from common import crd
from console import display

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def test_every_phase_has_a_colour_and_a_cell_background() -> None:
    phases = [getattr(crd, n) for n in dir(crd) if n.startswith("PHASE_")]
    assert sorted(display.PHASE_COLORS) == sorted(phases)
    assert display.phase_color("Running") == "green" and display.phase_color("Failed") == "red"
    assert display.phase_color("Starting") == display.phase_color("Pending") == "blue"
    assert display.phase_color("Stopped") == "gray" and display.phase_color("Whatever") == "gray"
    assert {display.phase_cell_style(p) for p in phases} <= {
        f"background-color: {c}" for c in display.CELL_BACKGROUNDS.values()
    }


@pytest.mark.parametrize(
    ("seconds", "text"), [(-5, "0s"), (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (7200, "2h"), (90000, "1d")]
)
def test_duration(seconds: float, text: str) -> None:
    assert display.duration(seconds) == text


def test_since_and_age() -> None:
    assert display.since("2026-01-02T11:55:00Z", NOW) == "5m ago"
    assert display.since("", NOW) == "never" and display.since("garbage", NOW) == "never"
    assert display.age("2026-01-01T12:00:00Z", NOW) == "1d" and display.age("", NOW) == ""


@pytest.mark.parametrize(
    ("workspace", "text"),
    [
        ({"running": True, "phase": "Running"}, ""),
        ({"running": True, "phase": "Starting"}, ""),
        ({"running": False, "phase": "Stopped", "stoppedReason": "User"}, "stopped by its user"),
        ({"running": True, "phase": "Stopped", "stoppedReason": "Idle"}, "stopped after being idle"),
        ({"running": False, "phase": "Stopped", "stoppedReason": "Schedule"}, "stopped (Schedule)"),
        ({"running": False, "phase": "Stopping"}, "stopped"),
    ],
)
def test_why_stopped(workspace: dict, text: str) -> None:
    assert display.stopped_text(workspace) == text


def test_workspace_row() -> None:
    workspace = {
        "name": "api",
        "owner": "alice",
        "template": "python",
        "phase": "Running",
        "running": True,
        "lastActivity": "2026-01-02T11:59:30Z",
        "createdAt": "2026-01-02T09:00:00Z",
        "ideURL": "https://api.ide.example.com/",
        "updatePending": True,
    }
    assert display.workspace_row(workspace, NOW, with_owner=True) == {
        "Name": "api",
        "Owner": "alice",
        "Template": "python",
        "Phase": "Running",
        "Stopped": "update pending",
        "Last activity": "30s ago",
        "Age": "3h",
        "IDE": "https://api.ide.example.com/",
    }
    stopped = {**workspace, "phase": "Stopped", "running": False, "stoppedReason": "Idle", "updatePending": False}
    row = display.workspace_row(stopped, NOW)
    assert "Owner" not in row and row["IDE"] == "" and row["Stopped"] == "stopped after being idle"


@pytest.mark.parametrize(
    ("workspace", "start", "stop"),
    [
        ({"running": True, "phase": "Running"}, False, True),
        ({"running": True, "phase": "Starting"}, False, True),
        ({"running": False, "phase": "Stopping"}, True, False),
        ({"running": False, "phase": "Stopped"}, True, False),
        ({"running": True, "phase": "Stopped", "stoppedReason": "Idle"}, True, False),
        ({"running": True, "phase": "Terminating", "deleting": True}, False, False),
    ],
)
def test_what_can_be_done(workspace: dict, start: bool, stop: bool) -> None:
    assert (display.can_start(workspace), display.can_stop(workspace)) == (start, stop)


def test_the_limits_line_names_only_the_limits_that_apply() -> None:
    limits = {"workspaces": 20, "running": 3, "cpu": "16", "memory": "", "storage": "0"}
    assert display.limits_line(limits) == "Your limits: 20 workspaces · 3 running at once · 16 CPU"
    assert display.limits_line({"workspaces": 0, "running": 0, "cpu": "", "memory": "", "storage": ""}) == ""
    assert display.limits_line({}) == ""
