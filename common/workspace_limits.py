"""Per-user limits on Workspaces: how many a user may have, and how many may run at once.

Pure decisions shared by the API (creating and starting) and the gateway (starting on
connect), so both refuse with the same words. Admins set limits per user (`limits.json` in
the user's ConfigMap); everyone else gets the installation's defaults. The semantics are
Eclipse Che's (a count of Workspaces and of running ones, checked when one is created or
started) rather than Coder's (a budget of credits per group, spent by each Workspace's daily
cost): counts are what users and admins can read off the Workspace list, and the message says
exactly what to do.
"""

from dataclasses import dataclass

from common import accounts, crd


@dataclass(frozen=True)
class Limits:
    """0 means no limit."""

    workspaces: int
    running: int


def limits_of(configmap: dict | None, default: Limits) -> Limits:
    """The user's own limits where an admin set them, the default for the rest."""
    given = accounts.limits_of(configmap)

    def pick(key: str, fallback: int) -> int:
        value = given.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else fallback

    return Limits(pick("workspaces", default.workspaces), pick("running", default.running))


def _owned(workspaces: list[dict], user: str) -> list[dict]:
    return [
        w
        for w in workspaces
        if (w.get("spec") or {}).get("owner") == user and not (w.get("metadata") or {}).get("deletionTimestamp")
    ]


def _is_running(workspace: dict) -> bool:
    """Asked to run and not stopped (by its user or by the idle policy)."""
    phase = (workspace.get("status") or {}).get("phase")
    return bool((workspace.get("spec") or {}).get("running", True)) and phase != crd.PHASE_STOPPED


def create_problem(user: str, workspaces: list[dict], limits: Limits, running: bool) -> str | None:
    """Why `user` may not create one more Workspace (running or not), or None."""
    owned = _owned(workspaces, user)
    if limits.workspaces and len(owned) >= limits.workspaces:
        return f"{user} already has {len(owned)} of {limits.workspaces} Workspaces; delete one first"
    return start_problem(user, workspaces, limits, "") if running else None


def start_problem(user: str, workspaces: list[dict], limits: Limits, name: str) -> str | None:
    """Why `user` may not start Workspace `name` now, or None."""
    others = [w for w in _owned(workspaces, user) if (w.get("metadata") or {}).get("name") != name]
    running = sum(1 for w in others if _is_running(w))
    if limits.running and running >= limits.running:
        return f"{user} already runs {running} of {limits.running} Workspaces; stop one first"
    return None
