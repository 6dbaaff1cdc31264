"""The idle policy: a running Workspace with no activity for its idle timeout is stopped.

Only `now`, the Workspace's annotations and its previous status decide, so the hook stays
pure; `spec.running` is never touched, so a GitOps tool sees no drift.

Every moment read here can be written by someone other than the hooks (a user's annotation, a
probed heartbeat), so none is trusted: a moment a little ahead of `now` (clock skew) counts
as `now`, one further ahead is ignored, and a deadline past the calendar's end is "never".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common import crd
from common.timefmt import parse_time

# How far ahead of the hooks' clock another component's clock may run.
CLOCK_SKEW = timedelta(minutes=5)


def plausible(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` if it can have happened by `now` (clamped to it within the skew), else None."""
    if moment is None or moment > now + CLOCK_SKEW:
        return None
    return min(moment, now)


@dataclass(frozen=True)
class Activity:
    last: datetime | None
    source: str
    keep_alive_until: datetime | None


def activity_of(parent: dict[str, Any], now: datetime) -> Activity:
    notes = (parent.get("metadata") or {}).get("annotations") or {}
    return Activity(
        last=plausible(parse_time(notes.get(crd.ANNOTATION_LAST_ACTIVITY)), now),
        source=str(notes.get(crd.ANNOTATION_LAST_ACTIVITY_SOURCE, "")),
        keep_alive_until=parse_time(notes.get(crd.ANNOTATION_KEEP_ALIVE_UNTIL)),
    )


def ready_since(status: dict[str, Any], now: datetime) -> datetime | None:
    """When the Workspace last became Ready, as its status says: `now` while it is still
    starting (the idle clock waits for a start slower than the timeout, e.g. a long image
    pull), the Ready condition's transition once it runs, None when it is not Ready."""
    if status.get("phase") in (crd.PHASE_PENDING, crd.PHASE_STARTING):
        return now
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return parse_time(ready.get("lastTransitionTime")) if ready.get("status") == "True" else None


def idle_deadline(
    activity: Activity,
    started: datetime | None,
    created: datetime | None,
    ready: datetime | None,
    timeout_seconds: int,
    now: datetime,
) -> datetime | None:
    """When the Workspace becomes idle, or None when the policy never stops it: its timeout
    after the latest of its last activity, start, creation and becoming Ready."""
    if timeout_seconds <= 0:
        return None
    moments = [m for m in (plausible(m, now) for m in (activity.last, started, created, ready)) if m is not None]
    if not moments:
        return None
    try:
        deadline = max(moments) + timedelta(seconds=timeout_seconds)
    except OverflowError:  # beyond year 9999: never
        return None
    if activity.keep_alive_until and activity.keep_alive_until > deadline:
        return activity.keep_alive_until
    return deadline
