"""Routing, authorization and start decisions: pure tables, no network."""

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common import crd
from gateway import keys
from gateway.routing import (
    AGENT_FORWARDING_DISABLED,
    Action,
    Login,
    LoginError,
    OfferedKey,
    WorkspaceView,
    agent_refusal,
    authorize,
    key_in,
    parse_login,
    start_plan,
)

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
GRACE = timedelta(seconds=300)


def offered(line: str) -> OfferedKey:
    kind, blob = line.split()[:2]
    return OfferedKey(kind, base64.b64decode(blob))


@pytest.fixture(scope="module")
def key_lines() -> dict[str, str]:
    return {name: keys.public_line(keys.load_private_key(keys.generate_ed25519())) for name in ("a", "b", "c")}


@pytest.mark.parametrize(
    ("name", "login"),
    [
        ("api", Login("api")),
        ("alice+api", Login("api", "alice")),
        ("a-1+w-2", Login("w-2", "a-1")),
        ("x" * 60, Login("x" * 60)),
    ],
)
def test_logins(name: str, login: Login) -> None:
    assert parse_login(name) == login
    assert login.text == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "workspace name is required"),
        ("+api", "expected <user>\\+<workspace>"),
        ("alice+", "workspace name is required"),
        ("Api", "lower-case"),
        ("api.prod", "lower-case"),
        ("x" * 61, "at most 60"),
        ("Alice+api", "user name is a DNS label"),
        ("a+b+c", "user name is a DNS label"),
        ("root@evil", "lower-case"),
    ],
)
def test_bad_logins(name: str, why: str) -> None:
    with pytest.raises(LoginError, match=why):
        parse_login(name)


def view(**overrides: Any) -> WorkspaceView:
    values: dict[str, Any] = {"name": "api", "owner": "alice", "running": True, "phase": crd.PHASE_RUNNING}
    values.update(overrides)
    return WorkspaceView(**values)


def test_workspace_view_from_an_object() -> None:
    obj = {
        "metadata": {"name": "api", "deletionTimestamp": "2026-11-22T12:00:00Z"},
        "spec": {"owner": "alice", "running": False, "sshAuthorizedKeys": ["ssh-ed25519 AAAA x"]},
        "status": {
            "phase": "Stopped",
            "stoppedReason": "Idle",
            "message": "m",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Idle", "lastTransitionTime": "2026-11-22T11:59:00Z"}
            ],
        },
    }
    got = WorkspaceView.from_object(obj)
    assert got == WorkspaceView(
        "api", "alice", False, "Stopped", "Idle", "m", True, NOW - timedelta(minutes=1), ("ssh-ed25519 AAAA x",)
    )
    # spec.running defaults to true; a Ready condition that is True gives no "not ready since".
    fresh = WorkspaceView.from_object(
        {
            "metadata": {"name": "n"},
            "spec": {"owner": "o"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    assert fresh.running is True and fresh.not_ready_since is None and fresh.phase == ""


def test_owner_keys_and_workspace_keys_are_allowed(key_lines: dict[str, str]) -> None:
    ws = view(extra_keys=(key_lines["b"],))
    owner = authorize(Login("api"), ws, offered(key_lines["a"]), [key_lines["a"]])
    assert (owner.allowed, owner.user, owner.code) == (True, "alice", "owner-key")
    extra = authorize(Login("api"), ws, offered(key_lines["b"]), [key_lines["a"]])
    assert (extra.allowed, extra.code) == (True, "workspace-key")
    explicit = authorize(Login("api", "alice"), ws, offered(key_lines["a"]), [key_lines["a"]])
    assert explicit.allowed


def test_denials_say_why(key_lines: dict[str, str]) -> None:
    ws = view()
    unknown = authorize(Login("nope"), None, offered(key_lines["a"]), [])
    assert (unknown.allowed, unknown.code) == (False, "unknown-workspace")
    assert "no workspace named 'nope'" in unknown.reason
    deleting = authorize(Login("api"), view(deleting=True), offered(key_lines["a"]), [key_lines["a"]])
    assert deleting.code == "unknown-workspace"
    other = authorize(Login("api", "bob"), ws, offered(key_lines["b"]), [key_lines["b"]])
    assert (other.allowed, other.code, other.user) == (False, "no-access", "bob")
    wrong = authorize(Login("api"), ws, offered(key_lines["c"]), [key_lines["a"]])
    assert (wrong.allowed, wrong.code) == (False, "key-not-allowed")
    assert offered(key_lines["c"]).fingerprint in wrong.reason and "'alice'" in wrong.reason


def test_unparseable_registered_keys_are_skipped(key_lines: dict[str, str]) -> None:
    lines = ["garbage", "ssh-ed25519 !!!", "ssh-rsa " + key_lines["a"].split()[1], key_lines["a"]]
    assert key_in(offered(key_lines["a"]), lines)
    assert not key_in(offered(key_lines["b"]), lines)


def test_fingerprint_matches_ssh_keygen(tmp_path: Path, key_lines: dict[str, str]) -> None:
    (tmp_path / "k.pub").write_text(key_lines["a"] + " comment\n")
    printed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, check=True, text=True)
    assert printed.stdout.split()[1] == offered(key_lines["a"]).fingerprint


@pytest.mark.parametrize(
    ("ws", "interactive", "action", "set_running", "message"),
    [
        (view(), True, Action.READY, False, ""),
        (view(), False, Action.READY, False, ""),
        (view(phase=crd.PHASE_STARTING), False, Action.WAIT, False, "is starting"),
        (view(phase=""), True, Action.WAIT, False, "being created"),
        (view(phase=crd.PHASE_FAILED, message="quota exceeded"), True, Action.FAIL, False, "failed: quota exceeded"),
        (view(phase=crd.PHASE_TERMINATING), True, Action.FAIL, False, "being deleted"),
        (view(deleting=True), True, Action.FAIL, False, "being deleted"),
        # Stopped by its user: connecting asks to start it, whatever the channel.
        (
            view(running=False, phase=crd.PHASE_STOPPED, stopped_reason="User"),
            False,
            Action.START,
            True,
            "stopped by its user",
        ),
        (view(running=False, phase=crd.PHASE_RUNNING), True, Action.START, True, "stopped by its user"),
        # Stopped as idle long ago: any use starts it (activity only, spec untouched).
        (
            view(phase=crd.PHASE_STOPPED, stopped_reason="Idle", not_ready_since=NOW - timedelta(hours=1)),
            False,
            Action.START,
            False,
            "idle timeout; starting it",
        ),
        # Stopped as idle moments ago: a real session starts it, a tunnel reconnecting does not.
        (
            view(phase=crd.PHASE_STOPPED, stopped_reason="Idle", not_ready_since=NOW - timedelta(seconds=30)),
            True,
            Action.START,
            False,
            "starting it",
        ),
        (
            view(phase=crd.PHASE_STOPPED, stopped_reason="Idle", not_ready_since=NOW - timedelta(seconds=30)),
            False,
            Action.REFUSE,
            False,
            "open a shell",
        ),
        (
            view(phase=crd.PHASE_STOPPING, stopped_reason="Idle", not_ready_since=None),
            False,
            Action.REFUSE,
            False,
            "idle timeout",
        ),
    ],
)
def test_start_plans(ws: WorkspaceView, interactive: bool, action: Action, set_running: bool, message: str) -> None:
    plan = start_plan(ws, NOW, interactive, GRACE)
    assert (plan.action, plan.set_running) == (action, set_running)
    assert message in plan.message


@pytest.mark.parametrize(
    ("allowed", "started", "requested", "refused"),
    [
        (True, False, False, ""),
        (False, False, False, AGENT_FORWARDING_DISABLED),
        (False, True, True, AGENT_FORWARDING_DISABLED),  # the admin's switch is what the user reads
        (True, True, False, "agent forwarding requested after the session started"),
        (True, False, True, "agent forwarding requested twice"),
    ],
)
def test_agent_forwarding_policy(allowed: bool, started: bool, requested: bool, refused: str) -> None:
    assert agent_refusal(allowed, started, requested) == refused
