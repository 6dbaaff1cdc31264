"""How Workspaces read in the console: phase colours, ages, why one is stopped, table rows.
Pure functions (no Streamlit), so the wording and colours are tested on their own."""

from datetime import datetime
from typing import Literal

from common import crd
from common.timefmt import parse_time

# Streamlit badge colour names, and the cell background of the same hue for tables. Green is
# the only "all good"; blue means on its way; grey is at rest; red needs someone to look.
Color = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]
PHASE_COLORS: dict[str, Color] = {
    crd.PHASE_RUNNING: "green",
    crd.PHASE_PENDING: "blue",
    crd.PHASE_STARTING: "blue",
    crd.PHASE_STOPPING: "orange",
    crd.PHASE_STOPPED: "gray",
    crd.PHASE_FAILED: "red",
    crd.PHASE_TERMINATING: "violet",
}
CELL_BACKGROUNDS: dict[str, str] = {
    "green": "#d3f9d8",
    "blue": "#d0ebff",
    "orange": "#ffe8cc",
    "gray": "#e9ecef",
    "red": "#ffc9c9",
    "violet": "#e5dbff",
}
PHASES = tuple(PHASE_COLORS)
STOPPED_REASONS = {
    crd.STOPPED_BY_USER: "stopped by its user",
    crd.STOPPED_BY_IDLE: "stopped after being idle",
}


def phase_color(phase: str) -> Color:
    """The badge colour of a phase; an unknown phase is grey rather than an error."""
    return PHASE_COLORS.get(phase, "gray")


def phase_cell_style(phase: str) -> str:
    """CSS for a table cell holding `phase`."""
    return f"background-color: {CELL_BACKGROUNDS[phase_color(phase)]}"


def duration(seconds: float) -> str:
    """A short, rounded-down duration: 45s, 12m, 5h, 3d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def since(moment: str, now: datetime) -> str:
    """How long ago an RFC 3339 time was ("5m ago"); "never" when there is none."""
    parsed = parse_time(moment)
    return f"{duration((now - parsed).total_seconds())} ago" if parsed else "never"


def age(created: str, now: datetime) -> str:
    parsed = parse_time(created)
    return duration((now - parsed).total_seconds()) if parsed else ""


def stopped_text(workspace: dict) -> str:
    """Why a Workspace is not running, in words; empty while it runs or is on its way up."""
    if workspace.get("running", True) and workspace.get("phase") != crd.PHASE_STOPPED:
        return ""
    reason = workspace.get("stoppedReason") or ""
    return STOPPED_REASONS.get(reason, f"stopped ({reason})" if reason else "stopped")


def can_start(workspace: dict) -> bool:
    """Stopped by its user, or stopped as idle (`running` still true): a start brings it back."""
    if workspace.get("deleting"):
        return False
    return not workspace.get("running", True) or workspace.get("phase") == crd.PHASE_STOPPED


def can_stop(workspace: dict) -> bool:
    if workspace.get("deleting"):
        return False
    return bool(workspace.get("running", True)) and workspace.get("phase") != crd.PHASE_STOPPED


def workspace_row(workspace: dict, now: datetime, *, with_owner: bool = False) -> dict[str, str]:
    """One table row: what a developer scans for in a list of Workspaces."""
    row = {"Name": workspace.get("name", "")}
    if with_owner:
        row["Owner"] = workspace.get("owner", "")
    row.update(
        {
            "Template": workspace.get("template", ""),
            "Phase": workspace.get("phase", ""),
            "Stopped": stopped_text(workspace),
            "Last activity": since(workspace.get("lastActivity", ""), now),
            "Age": age(workspace.get("createdAt", ""), now),
            "IDE": workspace.get("ideURL", "") if workspace.get("phase") == crd.PHASE_RUNNING else "",
        }
    )
    if workspace.get("updatePending"):
        row["Stopped"] = (row["Stopped"] + "; " if row["Stopped"] else "") + "update pending"
    return row


def limits_line(limits: dict) -> str:
    """The limits that apply to a user (the API's `effectiveLimits`) in one line, "" with none."""
    parts = []
    if limits.get("workspaces"):
        parts.append(f"{limits['workspaces']} workspaces")
    if limits.get("running"):
        parts.append(f"{limits['running']} running at once")
    for key, word in (("cpu", "CPU"), ("memory", "memory"), ("storage", "storage")):
        if limits.get(key) and limits[key] != "0":
            parts.append(f"{limits[key]} {word}")
    return "Your limits: " + " · ".join(parts) if parts else ""
