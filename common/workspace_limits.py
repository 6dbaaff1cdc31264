"""Per-user limits on Workspaces: how many a user may have, how many may run at once, and how
much CPU, memory and storage their Workspaces may request in all.

Admins set them per user (`limits.json` in the user's ConfigMap) and per group (the
installation's group limits: Helm's `groupLimits`); everyone else gets the installation's
defaults. For each limit the user's own value wins; else the most generous value among the
groups they are in (no limit beats any number), so a group can raise or lower the default for
its members and a member of two groups is never held to the stricter one; else the default.

The counts follow Eclipse Che (a number of Workspaces and of running ones, checked when one is
created or started) rather than Coder (a budget of credits per group, spent by each
Workspace's daily cost): counts are what users and admins can read off
the Workspace list, and the message says exactly what to do. The aggregate requests follow
Kubernetes' own ResourceQuota: CPU and memory count while a Workspace runs, storage as long as
it exists (a stopped Workspace keeps its home volume). A change is judged only on what it asks
more of, so lowering a user's limit never blocks an edit that frees or keeps resources.
"""

import json
from collections.abc import Callable, Mapping
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
COUNTS = ("workspaces", "running")
QUANTITIES = ("cpu", "memory", "storage")

# Group name -> the limits set for its members (any of COUNTS and QUANTITIES).
GroupLimits = Mapping[str, Mapping[str, Any]]


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


def is_count_limit(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_group_limits(text: str) -> dict[str, dict[str, Any]]:
    """Group limits as the installation gives them: a JSON object of group name to
    {"workspaces": 10, "running": 3, "cpu": "16", "memory": "64Gi", "storage": "500Gi"} (any
    subset). ValueError says which group and limit is wrong."""
    try:
        given = json.loads(text or "{}")
    except ValueError as err:
        raise ValueError(f"group limits are not JSON: {err}") from err
    if not isinstance(given, dict):
        raise ValueError("group limits are a JSON object of group name to limits")
    parsed: dict[str, dict[str, Any]] = {}
    for group, limits in given.items():
        if not isinstance(limits, dict):
            raise ValueError(f'group {group!r}: limits are an object such as {{"running": 3}}')
        limits = {key: _quantity_text(value) if key in QUANTITIES else value for key, value in limits.items()}
        for key, value in limits.items():
            if key in COUNTS and not is_count_limit(value):
                raise ValueError(f"group {group!r}: {key} is a whole number >= 0 (0: no limit), not {value!r}")
            if key in QUANTITIES and not _group_quantity(value):
                raise ValueError(f"group {group!r}: {key} is a quantity such as 8, 500m or 16Gi, not {value!r}")
            if key not in COUNTS + QUANTITIES:
                raise ValueError(f"group {group!r}: unknown limit {key!r} (known: {', '.join(COUNTS + QUANTITIES)})")
        parsed[str(group)] = dict(limits)
    return parsed


def _quantity_text(value: Any) -> Any:
    """A quantity written as a bare number (Helm values: `cpu: 8`) as the text "8"."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _group_quantity(value: object) -> bool:
    """A group's CPU, memory or storage limit: a quantity, or "" for none (as in userLimits)."""
    return value == "" or is_quantity_limit(value)


def _unlimited(value: object) -> bool:
    return value in (0, "") or (is_quantity_limit(value) and parse_quantity(value) == 0)


def _most_generous(key: str, values: list[Any]) -> Any:
    """Of several groups' values for one limit, the one that allows most; no limit (0, "") wins."""
    free = [value for value in values if _unlimited(value)]
    if free:
        return free[0]
    return max(values) if key in COUNTS else max(values, key=parse_quantity)


def limits_of(configmap: dict[str, Any] | None, default: Limits, group_limits: GroupLimits | None = None) -> Limits:
    """The user's own limits where an admin set them, else their groups' (the most generous),
    else the default."""
    own = accounts.limits_of(configmap)
    groups = [(group_limits or {}).get(group) or {} for group in accounts.groups_of(configmap)]

    def pick(key: str, own_valid: Callable[[object], bool], group_valid: Callable[[object], bool]) -> Any:
        if own_valid(own.get(key)):
            return own[key]
        from_groups = [limits[key] for limits in groups if group_valid(limits.get(key))]
        return _most_generous(key, from_groups) if from_groups else getattr(default, key)

    return Limits(
        *(pick(key, is_count_limit, is_count_limit) for key in COUNTS),
        *(pick(key, is_quantity_limit, _group_quantity) for key in QUANTITIES),
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
