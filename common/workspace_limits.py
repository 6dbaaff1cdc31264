"""Per-user limits on Workspaces: how many a user may have, how many may run at once, and how
much CPU, memory and storage their Workspaces may request in all.

Admins set them per user (`limits.json` in the user's ConfigMap); everyone else gets the
installation's defaults. The counts follow Eclipse Che (a number of Workspaces and of running
ones, checked when one is created or started) rather than Coder (a budget of credits per
group, spent by each Workspace's daily cost): counts are what users and admins can read off
the Workspace list, and the message says exactly what to do. The aggregate requests follow
Kubernetes' own ResourceQuota: CPU and memory count while a Workspace runs, storage as long as
it exists (a stopped Workspace keeps its home volume). A change is judged only on what it asks
more of, so lowering a user's limit never blocks an edit that frees or keeps resources.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

from common import accounts, crd, policy
from common.quantity import format_like, parse_quantity

# What each aggregate is called in a message, and what frees it.
_WORDS = {
    "cpu": ("CPU", "stop one first"),
    "memory": ("memory", "stop one first"),
    "storage": ("storage", "delete one first"),
}


@dataclass(frozen=True)
class Limits:
    """0 (or "" for the quantities) means no limit."""

    workspaces: int
    running: int
    cpu: str = ""
    memory: str = ""
    storage: str = ""


def is_quantity_limit(value: object) -> TypeGuard[str]:
    """A CPU, memory or storage limit as users and admins write it ("4", "500m", "8Gi")."""
    try:
        return isinstance(value, str) and parse_quantity(value) >= 0
    except ValueError:
        return False


def limits_of(configmap: dict[str, Any] | None, default: Limits) -> Limits:
    """The user's own limits where an admin set them, the default for the rest."""
    given = accounts.limits_of(configmap)

    def count(key: str, fallback: int) -> int:
        value = given.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else fallback

    def amount(key: str, fallback: str) -> str:
        value = given.get(key)
        return value if is_quantity_limit(value) else fallback

    return Limits(
        count("workspaces", default.workspaces),
        count("running", default.running),
        amount("cpu", default.cpu),
        amount("memory", default.memory),
        amount("storage", default.storage),
    )


def _name(workspace: dict[str, Any]) -> str:
    return str((workspace.get("metadata") or {}).get("name", ""))


def _owned(workspaces: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    return [
        w
        for w in workspaces
        if (w.get("spec") or {}).get("owner") == user and not (w.get("metadata") or {}).get("deletionTimestamp")
    ]


def _is_running(workspace: dict[str, Any]) -> bool:
    """Asked to run and not stopped (by its user or by the idle policy)."""
    phase = (workspace.get("status") or {}).get("phase")
    return bool((workspace.get("spec") or {}).get("running", True)) and phase != crd.PHASE_STOPPED


def create_problem(user: str, workspaces: list[dict[str, Any]], limits: Limits, running: bool) -> str | None:
    """Why `user` may not create one more Workspace (running or not), or None."""
    owned = _owned(workspaces, user)
    if limits.workspaces and len(owned) >= limits.workspaces:
        return f"{user} already has {len(owned)} of {limits.workspaces} Workspaces; delete one first"
    return start_problem(user, workspaces, limits, "") if running else None


def start_problem(user: str, workspaces: list[dict[str, Any]], limits: Limits, name: str) -> str | None:
    """Why `user` may not start Workspace `name` now, or None."""
    others = [w for w in _owned(workspaces, user) if _name(w) != name]
    running = sum(1 for w in others if _is_running(w))
    if limits.running and running >= limits.running:
        return f"{user} already runs {running} of {limits.running} Workspaces; stop one first"
    return None


def _requested(spec: dict[str, Any], runs: bool, templates: dict[str, dict[str, Any]]) -> dict[str, Decimal]:
    """What a Workspace counts against its owner's limits: CPU and memory only while it runs."""
    template = templates.get(str(spec.get("template", ""))) or {}
    wanted = policy.requests_of(spec, template.get("spec") or {})
    return {key: amount if runs or key == "storage" else Decimal(0) for key, amount in wanted.items()}


def request_problem(
    user: str,
    workspaces: list[dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    limits: Limits,
    name: str,
    spec: dict[str, Any],
) -> str | None:
    """Why Workspace `name` with `spec` (as it would be after a create, start or update; it
    runs when `spec.running` says so) would take `user`'s Workspaces past a CPU, memory or
    storage limit, or None. `templates` maps names to WorkspaceTemplates."""
    owned = _owned(workspaces, user)
    before = next((w for w in owned if _name(w) == name), None)
    old = _requested(before.get("spec") or {}, _is_running(before), templates) if before else {}
    new = _requested(spec, bool(spec.get("running", True)), templates)
    for key in policy.REQUESTED:
        limit = getattr(limits, key)
        if not is_quantity_limit(limit) or not parse_quantity(limit) or new[key] <= old.get(key, Decimal(0)):
            continue
        total = new[key] + sum(
            (_requested(w.get("spec") or {}, _is_running(w), templates)[key] for w in owned if _name(w) != name),
            Decimal(0),
        )
        if total > parse_quantity(limit):
            word, remedy = _WORDS[key]
            return (
                f"{user}'s Workspaces would request {format_like(total, limit)} {word} "
                f"of {user}'s {limit} {word} limit; {remedy}"
            )
    return None
