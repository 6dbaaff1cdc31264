"""Bringing a Workspace up for a connection: start it if the rules allow, wait until Running.

Starting is a fresh activity annotation (which wakes a Workspace the idle policy stopped) plus
`spec.running: true` when its user had stopped it: connecting is asking for it, as in Coder.
The write happens once per wait, never in a loop, and routing.start_plan refuses to restart a
Workspace stopped as idle moments ago unless the user really opens a session. Starting also
respects the owner's limit of Workspaces running at once, with the API's own rule and words
(common/workspace_limits.py): connecting never starts one more than the console would.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from common import crd
from common.workspace_limits import GroupLimits, Limits, limits_of, start_problem
from gateway.cluster import Cluster, ClusterError, activity_patch
from gateway.routing import Action, WorkspaceView, start_plan

log = logging.getLogger("cps1.gateway.lifecycle")
POLL_SECONDS = 1.0
Progress = Callable[[str], None]


class StartFailed(Exception):
    """The Workspace cannot be used now; the text is for the client."""


def start_refusal(
    cluster: Cluster, ws: WorkspaceView, default: Limits, group_limits: GroupLimits | None = None
) -> str | None:
    """Why starting `ws` would break its owner's running limit, or None."""
    try:
        limits = limits_of(cluster.user(ws.owner), default, group_limits)
        if not limits.running:
            return None
        return start_problem(ws.owner, cluster.workspaces(), limits, ws.name)
    except ClusterError as err:
        raise StartFailed(str(err)) from err


def ensure_running(
    cluster: Cluster,
    name: str,
    *,
    interactive: bool,
    timeout: float,
    restart_grace: float,
    limits: Limits,
    group_limits: GroupLimits | None = None,
    progress: Progress | None = None,
    on_start: Callable[[], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> float:
    """Return when the Workspace is Running (seconds spent starting it, 0 when it already ran);
    StartFailed otherwise. `interactive`: a real session (see routing.start_plan); `limits`:
    the installation's default per-user limits, `group_limits` its per-group ones; `progress`
    receives one line per change of phase."""
    say = progress or (lambda text: None)
    try:
        obj = cluster.workspace(name)
    except ClusterError as err:
        raise StartFailed(str(err)) from err
    if obj is None:
        raise StartFailed(f"workspace {name!r} no longer exists")
    ws = WorkspaceView.from_object(obj)
    plan = start_plan(ws, datetime.now(UTC), interactive, timedelta(seconds=restart_grace))
    if plan.action is Action.READY:
        return 0.0
    if plan.action in (Action.FAIL, Action.REFUSE):
        raise StartFailed(plan.message)
    started = time.monotonic()
    if plan.action is Action.START:
        refused = start_refusal(cluster, ws, limits, group_limits)
        if refused:
            log.info("start refused", extra={"workspace": name, "reason": refused})
            raise StartFailed(refused)
        try:
            cluster.patch_workspace(name, activity_patch(datetime.now(UTC), start=plan.set_running))
        except ClusterError as err:
            raise StartFailed(str(err)) from err
        log.info("starting workspace", extra={"workspace": name, "set_running": plan.set_running})
        if on_start:
            on_start()
    say(f"{plan.message}; waiting up to {timeout:.0f}s for it to run")
    seen = ws.phase
    deadline = started + timeout
    while time.monotonic() < deadline:
        if cancelled():
            raise StartFailed("the client went away")
        time.sleep(POLL_SECONDS)
        try:
            obj = cluster.workspace(name)
        except ClusterError:
            continue  # a blip of the API server: keep waiting until the deadline
        if obj is None:
            raise StartFailed(f"workspace {name!r} was deleted")
        ws = WorkspaceView.from_object(obj)
        if ws.phase != seen:
            seen = ws.phase
            say(f"workspace {name!r} is {seen.lower() or 'pending'}")
        if ws.phase == crd.PHASE_FAILED:
            raise StartFailed(f"workspace {name!r} failed to start: {ws.message or 'no reason given'}")
        if ws.deleting:
            raise StartFailed(f"workspace {name!r} is being deleted")
        if ws.running and ws.phase == crd.PHASE_RUNNING:
            return time.monotonic() - started
    raise StartFailed(f"workspace {name!r} did not start within {timeout:.0f}s (it is {seen.lower() or 'pending'})")
