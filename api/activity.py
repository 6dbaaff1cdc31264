"""Annotation patches the api writes on a Workspace: activity, and the keep-alive."""

from datetime import datetime, timedelta

from common import crd
from common.timefmt import format_time


def activity_patch(now: datetime, source: str = "api") -> dict:
    return {
        "metadata": {
            "annotations": {
                crd.ANNOTATION_LAST_ACTIVITY: format_time(now),
                crd.ANNOTATION_LAST_ACTIVITY_SOURCE: source,
            }
        }
    }


def keep_alive_patch(now: datetime, seconds: int) -> dict:
    patch = activity_patch(now)
    patch["metadata"]["annotations"][crd.ANNOTATION_KEEP_ALIVE_UNTIL] = format_time(now + timedelta(seconds=seconds))
    return patch
