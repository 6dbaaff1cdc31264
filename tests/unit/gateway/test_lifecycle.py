"""ensure_running's protocol with the API: one start write, progress per phase, the timeout.

The cluster here replays a scripted sequence of Workspace objects through gateway.cluster's
Workspace methods (the gateway's own boundary); the real thing runs in tests/e2e/test_gateway.py.
"""

import json
from typing import Any

import pytest

from common import crd
from common.workspace_limits import Limits
from gateway import lifecycle
from gateway.cluster import ClusterError
from gateway.lifecycle import StartFailed, ensure_running


def obj(phase: str, running: bool = True, reason: str = "", message: str = "") -> dict:
    return {
        "metadata": {"name": "api"},
        "spec": {"owner": "alice", "running": running},
        "status": {"phase": phase, "stoppedReason": reason, "message": message},
    }


class Script:
    def __init__(
        self,
        *objects: dict[str, Any] | Exception | None,
        others: list[dict] | None = None,
        own_limits: dict | None = None,
        groups: list[str] | None = None,
    ) -> None:
        self.objects = list(objects)
        self.patches: list[dict] = []
        # The owner's other Workspaces, and the limits an admin set for them.
        self.others = others or []
        self.own_limits = own_limits
        self.groups = groups

    def user(self, name: str) -> dict | None:
        data = {}
        if self.own_limits is not None:
            data["limits.json"] = json.dumps(self.own_limits)
        if self.groups is not None:
            data["groups.json"] = json.dumps(self.groups)
        return {"data": data} if data else None

    def workspaces(self) -> list[Any]:
        return [self.objects[0], *self.others]

    def workspace(self, name: str) -> dict | None:
        current = self.objects.pop(0) if len(self.objects) > 1 else self.objects[0]
        if isinstance(current, Exception):
            raise current
        return current

    def patch_workspace(self, name: str, patch: dict) -> None:
        self.patches.append(patch)


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "POLL_SECONDS", 0.001)


NO_LIMITS = Limits(0, 0)


def run(
    script: Script,
    interactive: bool = True,
    timeout: float = 5,
    limits: Limits = NO_LIMITS,
    group_limits: dict[str, dict[str, Any]] | None = None,
) -> tuple[float, list[str]]:
    lines: list[str] = []
    spent = ensure_running(
        script,  # type: ignore[arg-type]  # a scripted stand-in for gateway.cluster.Cluster
        "api",
        interactive=interactive,
        timeout=timeout,
        restart_grace=300,
        limits=limits,
        group_limits=group_limits,
        progress=lines.append,
    )
    return spent, lines


def test_a_running_workspace_costs_one_read_and_no_write() -> None:
    script = Script(obj(crd.PHASE_RUNNING))
    assert run(script) == (0.0, [])
    assert script.patches == []


def test_a_user_stopped_workspace_is_started_once_with_progress() -> None:
    script = Script(
        obj(crd.PHASE_STOPPED, running=False, reason=crd.STOPPED_BY_USER),
        obj(crd.PHASE_STOPPED, running=True),
        ClusterError("blip"),  # a failed read while waiting is not fatal
        obj(crd.PHASE_STARTING),
        obj(crd.PHASE_STARTING),
        obj(crd.PHASE_RUNNING),
    )
    spent, lines = run(script)
    assert spent > 0
    assert len(script.patches) == 1
    assert script.patches[0]["spec"] == {"running": True}
    assert script.patches[0]["metadata"]["annotations"][crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "ssh"
    assert lines == [
        "workspace 'api' is stopped by its user; starting it; waiting up to 5s for it to run",
        "workspace 'api' is starting",
        "workspace 'api' is running",
    ]


def test_an_idle_stopped_workspace_gets_activity_only() -> None:
    script = Script(obj(crd.PHASE_STOPPED, reason=crd.STOPPED_BY_IDLE), obj(crd.PHASE_RUNNING))
    run(script)
    assert len(script.patches) == 1 and "spec" not in script.patches[0]


def test_timeout_and_failure_are_reported() -> None:
    with pytest.raises(StartFailed, match="did not start within 0s"):
        run(Script(obj(crd.PHASE_STARTING)), timeout=0.05)
    failing = Script(obj(crd.PHASE_STOPPED, running=False), obj(crd.PHASE_FAILED, message="ImagePullBackOff"))
    with pytest.raises(StartFailed, match="failed to start: ImagePullBackOff"):
        run(failing)
    assert len(failing.patches) == 1
    with pytest.raises(StartFailed, match="no longer exists"):
        run(Script(None))
    with pytest.raises(StartFailed, match="try again shortly"):
        run(Script(ClusterError("the gateway cannot reach the cluster right now; try again shortly")))


def test_a_recent_idle_stop_is_refused_to_a_tunnel() -> None:
    stopped = obj(crd.PHASE_STOPPED, reason=crd.STOPPED_BY_IDLE)
    script = Script(stopped)
    with pytest.raises(StartFailed, match="open a shell"):
        run(script, interactive=False)
    assert script.patches == []


def other(name: str, phase: str, running: bool = True, owner: str = "alice") -> dict:
    return {"metadata": {"name": name}, "spec": {"owner": owner, "running": running}, "status": {"phase": phase}}


RUNNING_TWO = [other("a", crd.PHASE_RUNNING), other("b", crd.PHASE_STARTING)]


@pytest.mark.parametrize(
    ("others", "own", "default", "refused"),
    [
        # Two others run, the default allows two: refused, nothing written.
        (RUNNING_TWO, None, 2, "alice already runs 2 of 2 Workspaces; stop one first"),
        # An admin raised alice's own limit: started.
        (RUNNING_TWO, {"running": 3}, 2, None),
        # No limit at all.
        (RUNNING_TWO, None, 0, None),
        # Stopped ones, and other owners' running ones, do not count.
        (
            [
                other("a", crd.PHASE_STOPPED),
                other("b", crd.PHASE_STOPPED, running=False),
                other("c", "Running", owner="bob"),
            ],
            None,
            1,
            None,
        ),
    ],
)
def test_starting_respects_the_owners_running_limit(
    others: list[dict], own: dict | None, default: int, refused: str | None
) -> None:
    script = Script(
        obj(crd.PHASE_STOPPED, running=False, reason=crd.STOPPED_BY_USER),
        obj(crd.PHASE_RUNNING),
        others=others,
        own_limits=own,
    )
    if refused:
        with pytest.raises(StartFailed, match=refused):
            run(script, limits=Limits(0, default))
        assert script.patches == []
    else:
        run(script, limits=Limits(0, default))
        assert len(script.patches) == 1


def test_a_group_limit_replaces_the_default_running_limit_at_start() -> None:
    def stopped(groups: list[str]) -> Script:
        return Script(
            obj(crd.PHASE_STOPPED, running=False, reason=crd.STOPPED_BY_USER),
            obj(crd.PHASE_RUNNING),
            others=RUNNING_TWO,
            groups=groups,
        )

    by_group = {"leads": {"running": 3}, "contractors": {"running": 1}}
    raised = stopped(["leads"])
    run(raised, limits=Limits(0, 2), group_limits=by_group)
    assert len(raised.patches) == 1
    with pytest.raises(StartFailed, match="alice already runs 2 of 1 Workspaces"):
        run(stopped(["contractors"]), limits=Limits(0, 5), group_limits=by_group)


def test_a_running_workspace_is_never_refused_by_the_limit() -> None:
    script = Script(obj(crd.PHASE_RUNNING), others=RUNNING_TWO)
    assert run(script, limits=Limits(0, 1)) == (0.0, [])
