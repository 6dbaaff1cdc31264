"""The idle policy: a running Workspace with no activity for its idle timeout is stopped.

Only `now`, the Workspace's annotations and its previous status decide, so the hook stays
pure; `spec.running` is never touched, so a GitOps tool sees no drift.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from common import crd
from common.timefmt import parse_time


@dataclass(frozen=True)
class Activity:
    last: datetime | None
    source: str
    keep_alive_until: datetime | None


def activity_of(parent: dict) -> Activity:
    notes = (parent.get("metadata") or {}).get("annotations") or {}
    return Activity(
        last=parse_time(notes.get(crd.ANNOTATION_LAST_ACTIVITY)),
        source=str(notes.get(crd.ANNOTATION_LAST_ACTIVITY_SOURCE, "")),
        keep_alive_until=parse_time(notes.get(crd.ANNOTATION_KEEP_ALIVE_UNTIL)),
    )


def idle_deadline(
    activity: Activity, started: datetime | None, created: datetime | None, timeout_seconds: int
) -> datetime | None:
    """When the Workspace becomes idle, or None when the policy never stops it."""
    if timeout_seconds <= 0:
        return None
    moments = [m for m in (activity.last, started, created) if m is not None]
    if not moments:
        return None
    deadline = max(moments) + timedelta(seconds=timeout_seconds)
    if activity.keep_alive_until and activity.keep_alive_until > deadline:
        return activity.keep_alive_until
    return deadline
