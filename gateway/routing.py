"""Pure decisions: which Workspace a login names, whether a key may enter it, whether to start it.

Nothing here touches the network, so every rule is tested as a table (tests/unit/gateway).
The connection code fetches the Workspace and the user ConfigMaps and asks these functions.
"""

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from common import accounts, crd, names
from common.timefmt import parse_time

USER_SEPARATOR = "+"


class LoginError(ValueError):
    """The SSH user name is not `<workspace>` or `<user>+<workspace>`."""


@dataclass(frozen=True)
class Login:
    workspace: str
    # The user named explicitly with `<user>+<workspace>`; None means "the key's owner".
    user: str | None = None

    @property
    def text(self) -> str:
        return f"{self.user}{USER_SEPARATOR}{self.workspace}" if self.user else self.workspace


def parse_login(name: str) -> Login:
    """`alice+api` -> Login("api", "alice"); `api` -> Login("api"). LoginError says why not."""
    user, sep, workspace = name.rpartition(USER_SEPARATOR)
    if sep and not user:
        raise LoginError(f"invalid login {name!r}: expected <user>+<workspace>")
    problem = names.workspace_name_error(workspace)
    if problem:
        raise LoginError(f"invalid login {name!r}: {problem}")
    if sep:
        problem = accounts.user_name_error(user)
        if problem:
            raise LoginError(f"invalid login {name!r}: {problem}")
        return Login(workspace, user)
    return Login(workspace)


@dataclass(frozen=True)
class WorkspaceView:
    """The parts of a Workspace object the gateway acts on."""

    name: str
    owner: str
    running: bool
    phase: str
    stopped_reason: str = ""
    message: str = ""
    deleting: bool = False
    # When the Workspace last stopped being Ready (the Ready condition's transition time).
    not_ready_since: datetime | None = None
    extra_keys: tuple[str, ...] = field(default_factory=tuple)
    # The sshd host key the hooks publish in its status (an authorized_keys line), so the
    # gateway pins the upstream without access to Secrets in Workspace namespaces.
    host_key: str = ""

    @classmethod
    def from_object(cls, obj: dict) -> "WorkspaceView":
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        since = parse_time(ready.get("lastTransitionTime")) if ready.get("status") == "False" else None
        return cls(
            name=str(meta.get("name", "")),
            owner=str(spec.get("owner", "")),
            running=bool(spec.get("running", True)),
            phase=str(status.get("phase", "")),
            stopped_reason=str(status.get("stoppedReason", "")),
            message=str(status.get("message", "")),
            deleting=bool(meta.get("deletionTimestamp")),
            not_ready_since=since,
            extra_keys=tuple(str(k) for k in spec.get("sshAuthorizedKeys") or []),
            host_key=str(status.get("sshHostKey") or "").strip(),
        )


@dataclass(frozen=True)
class OfferedKey:
    """A public key a client offered, as (type, raw blob)."""

    type: str
    blob: bytes

    @property
    def fingerprint(self) -> str:
        return accounts.PublicKey(self.type, base64.b64encode(self.blob).decode(), "").fingerprint


def _blob_of(line: str) -> bytes | None:
    try:
        key = accounts.parse_public_key(line)
        return base64.b64decode(key.blob)
    except (ValueError, binascii.Error):
        return None


def key_in(offered: OfferedKey, lines: list[str] | tuple[str, ...]) -> bool:
    """Whether the offered key is one of these authorized_keys-style lines (unparseable ones are
    skipped: one bad entry must not lock a user out of every other key)."""
    return any(_blob_of(line) == offered.blob for line in lines)


@dataclass(frozen=True)
class Access:
    allowed: bool
    # Who acts: the owner, or the `<user>` of `<user>+<workspace>`.
    user: str
    # For metrics and the audit log: owner-key, workspace-key, unknown-workspace, no-access,
    # key-not-allowed.
    code: str
    # For the client when denied.
    reason: str = ""


def authorize(login: Login, workspace: WorkspaceView | None, offered: OfferedKey, user_keys: list[str]) -> Access:
    """May `offered` open `login`? `user_keys` are the registered keys of the acting user (the
    owner, or the explicit `<user>`), as authorized_keys lines.

    Allowed: the owner's registered keys and the Workspace's own `spec.sshAuthorizedKeys`.
    `<user>+<workspace>` must name the owner: there is no admin back door into someone else's
    Workspace; an admin who needs one adds a key to `sshAuthorizedKeys`, which is auditable.
    """
    if workspace is None or workspace.deleting:
        return Access(False, login.user or "", "unknown-workspace", f"there is no workspace named {login.workspace!r}")
    user = login.user or workspace.owner
    if user != workspace.owner:
        return Access(False, user, "no-access", f"user {user!r} has no access to workspace {workspace.name!r}")
    if key_in(offered, user_keys):
        return Access(True, user, "owner-key")
    if key_in(offered, workspace.extra_keys):
        return Access(True, user, "workspace-key")
    return Access(
        False,
        user,
        "key-not-allowed",
        f"the key {offered.fingerprint} is not allowed on workspace {workspace.name!r}; "
        f"register it for user {user!r} or add it to the workspace's sshAuthorizedKeys",
    )


def public_denial(login: Login, offered: OfferedKey) -> str:
    """What a client that has not proven a key reads when denied: one text whatever the cause
    (no such Workspace, someone else's, a key not registered), so that logins cannot be used to
    find out which Workspaces exist or who owns them. The precise reason goes to the log."""
    return (
        f"permission denied: the key {offered.fingerprint} may not open {login.text!r} "
        "(no such workspace, or the key is not registered for it)"
    )


class Action(Enum):
    READY = "ready"  # Running: relay now
    WAIT = "wait"  # already on its way up: wait for Running
    START = "start"  # stopped: write activity (and spec.running) then wait
    REFUSE = "refuse"  # stopped as idle moments ago and this is not a real session
    FAIL = "fail"  # Failed or being deleted: tell the client why


@dataclass(frozen=True)
class StartPlan:
    action: Action
    message: str = ""
    # Set spec.running to true (the user stopped it; connecting asks to start it again).
    set_running: bool = False


def start_plan(ws: WorkspaceView, now: datetime, interactive: bool, restart_grace: timedelta) -> StartPlan:
    """What to do with a Workspace a client wants to use.

    `interactive` is true for a session channel's shell, exec or subsystem request: the user
    really opens a session. A port-forward or a reconnecting tunnel is not interactive and does
    not restart a Workspace the idle policy stopped less than `restart_grace` ago, so a client
    that keeps reconnecting cannot keep an abandoned Workspace alive.
    """
    if ws.deleting or ws.phase == crd.PHASE_TERMINATING:
        return StartPlan(Action.FAIL, f"workspace {ws.name!r} is being deleted")
    if ws.phase == crd.PHASE_FAILED:
        return StartPlan(Action.FAIL, f"workspace {ws.name!r} has failed: {ws.message or 'no reason given'}")
    if ws.running and ws.phase == crd.PHASE_RUNNING:
        return StartPlan(Action.READY)
    stopped = ws.phase in (crd.PHASE_STOPPED, crd.PHASE_STOPPING) or not ws.running
    if not stopped:
        return StartPlan(Action.WAIT, f"workspace {ws.name!r} is {(ws.phase or 'being created').lower()}")
    if ws.stopped_reason == crd.STOPPED_BY_IDLE and not interactive and ws.running:
        since = ws.not_ready_since
        if since is None or now - since < restart_grace:
            return StartPlan(
                Action.REFUSE,
                f"workspace {ws.name!r} was stopped after its idle timeout; "
                f"open a shell (ssh {ws.name}@...) to start it again",
            )
    why = "stopped by its user" if not ws.running else "stopped after its idle timeout"
    return StartPlan(Action.START, f"workspace {ws.name!r} is {why}; starting it", set_running=not ws.running)


AGENT_FORWARDING_DISABLED = "agent forwarding (ssh -A) is disabled on this gateway by its admin"


def agent_refusal(allowed: bool, started: bool, requested: bool) -> str:
    """Why a session's `auth-agent-req@openssh.com` is refused, or '' to pass it on. It must
    come before the shell, exec or subsystem request, as sshd needs it to set SSH_AUTH_SOCK;
    only the admin's refusal is told to the client (OpenSSH sends the request without asking
    for a reply, so it cannot report a refusal itself)."""
    if not allowed:
        return AGENT_FORWARDING_DISABLED
    if started:
        return "agent forwarding requested after the session started"
    if requested:
        return "agent forwarding requested twice"
    return ""
