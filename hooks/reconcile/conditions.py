"""Kubernetes-style conditions whose lastTransitionTime only moves when the status does."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.timefmt import format_time
from hooks.protocol import StatusCondition


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def merge(
    previous: list[Any] | None, current: list[Condition], generation: int, now: datetime
) -> list[StatusCondition]:
    """Conditions as status dicts, keeping the previous lastTransitionTime of any condition
    whose status did not change, so that the same inputs always give the same output."""
    before = {c.get("type"): c for c in previous or [] if isinstance(c, dict)}
    out: list[StatusCondition] = []
    for cond in current:
        status = "True" if cond.status else "False"
        old = before.get(cond.type) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        out.append(
            {
                "type": cond.type,
                "status": status,
                "reason": cond.reason,
                "message": cond.message,
                "lastTransitionTime": since or format_time(now),
                "observedGeneration": generation,
            }
        )
    return out
