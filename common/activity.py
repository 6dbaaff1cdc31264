"""The activity annotations every writer puts on a Workspace (the api, the IDE prober, the
gateway), in one shape, so the idle policy in the sync hook reads them all alike."""

from datetime import datetime, timedelta
from typing import Any

from common import crd
from common.timefmt import format_time


def activity_patch(now: datetime, source: str, *, start: bool = False) -> dict[str, Any]:
    """A merge patch recording activity at `now` from `source` (api, ide, ssh); with `start`,
    also asking the Workspace to run."""
    patch: dict[str, Any] = {
        "metadata": {
            "annotations": {
                crd.ANNOTATION_LAST_ACTIVITY: format_time(now),
                crd.ANNOTATION_LAST_ACTIVITY_SOURCE: source,
            }
        }
    }
    if start:
        patch["spec"] = {"running": True}
    return patch


def keep_alive_patch(now: datetime, seconds: int, source: str = "api") -> dict[str, Any]:
    """Activity now, and no idle stop before `seconds` from now (for a long job)."""
    patch = activity_patch(now, source)
    patch["metadata"]["annotations"][crd.ANNOTATION_KEEP_ALIVE_UNTIL] = format_time(now + timedelta(seconds=seconds))
    return patch
