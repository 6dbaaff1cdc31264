"""One connection's authentication: which login, which key, which user, and whether they may enter.

The `Authenticator` answers Paramiko's authentication questions (through gateway.interface)
from a `Directory`, a small protocol with the two reads a login needs: the Workspace a login
names (its owner and its own keys) and the acting user's account (registered keys, disabled).
The gateway's directory is `gateway.lookups.Lookups`, cached reads of the Kubernetes API; the
unit tests use an in-memory one. The rules themselves are pure functions in routing.py.

Order matters for what an attacker can learn or spoil (security issue items 1 and 4): before a
key is proven, every denial reads the same; a user's connection slot is claimed and precise
reasons (a disabled account, a connection limit) are told only after Paramiko verified the
signature (`auth_result`).
"""

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import paramiko
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL

from common import accounts
from gateway import keys, routing
from gateway.cluster import ClusterError
from gateway.limits import AuthFailures, ConnectionLimits
from gateway.metrics import Metrics
from gateway.routing import Access, Login, LoginError, OfferedKey, WorkspaceView

log = logging.getLogger("cps1.gateway.connection")


@dataclass(frozen=True)
class Account:
    """What the gateway needs of a user (common/accounts.py): their keys, and whether an admin
    disabled them."""

    name: str
    keys: tuple[str, ...] = ()
    disabled: bool = False

    @classmethod
    def from_configmap(cls, name: str, configmap: dict | None) -> "Account | None":
        if configmap is None:
            return None
        lines = tuple(str(k["key"]) for k in accounts.keys_of(configmap))
        return cls(name, lines, accounts.is_disabled(configmap))


class Directory(Protocol):
    """Who owns a Workspace and which keys open it; who a user is. ClusterError when the answer
    cannot be had now."""

    def workspace(self, name: str) -> WorkspaceView | None: ...

    def account(self, user: str) -> Account | None: ...

    def forget(self, workspace: str) -> None:
        """Read this Workspace afresh next time (its sshd's address or host key changed)."""


def revocation(account: Account | None) -> str:
    """Why an authenticated user's open connections must end now, or '' if they may stay: an
    admin disabled the account (the IdP removed the user) or it was deleted. A removed key is
    no reason: connections it opened stay, as with sshd."""
    if account is None:
        return "user-deleted"
    return "user-disabled" if account.disabled else ""


def disabled_denial(user: str) -> str:
    return f"user {user!r} is disabled by an admin; ask an admin to enable the account"


@dataclass(frozen=True)
class Identity:
    """Who a connection authenticated as, once Paramiko verified the key."""

    login: Login
    workspace: WorkspaceView
    user: str
    # How: owner-key or workspace-key (routing.authorize).
    via: str
    key_fingerprint: str


class Authenticator:
    """The authentication state of one connection. Called on Paramiko's transport thread; the
    directory reads start on a worker as soon as the login is known (OpenSSH's first "none"
    request), so they overlap the client's next round trip instead of holding that thread."""

    def __init__(
        self,
        directory: Directory,
        *,
        limits: ConnectionLimits,
        failures: AuthFailures,
        metrics: Metrics,
        source_key: str,
        max_tries: int,
        send_banner: Callable[[str], None],
        log_context: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.directory = directory
        self.limits = limits
        self.failures_by_source = failures
        self.metrics = metrics
        self.source_key = source_key
        self.max_tries = max_tries
        self._send_banner = send_banner
        self._log_context = log_context
        self.login: Login | None = None
        self.workspace: WorkspaceView | None = None
        self.identity: Identity | None = None
        # The user a denied attempt was for (the owner, or the <user> of <user>+<workspace>).
        self.attempted_user = ""
        self.failures = 0
        self.denials: list[str] = []
        self.keys_tried: list[str] = []
        # Whether the client sent any authentication request (handshake grace vs login grace).
        self.begun = False
        self._lookup_lock = threading.Lock()
        self._looked_up = False
        self._lookup_error = ""
        self._banners: set[str] = set()
        # The access a key would have, between the key check and Paramiko's signature check.
        self._proving: tuple[Access, OfferedKey] | None = None
        self._claimed = ""

    # The login ----------------------------------------------------------------------------

    def lookup(self, username: str) -> None:
        """Parse the login and fetch its Workspace, once per connection (SSH fixes the user
        name for the whole authentication)."""
        with self._lookup_lock:
            if self._looked_up:
                return
            self._looked_up = True
            try:
                self.login = routing.parse_login(username)
                self.workspace = self.directory.workspace(self.login.workspace)
            except (LoginError, ClusterError) as err:
                self._lookup_error = str(err)

    def _prefetch(self, username: str) -> None:
        """The Workspace, then its user's account: read now, kept by the directory's cache."""
        self.lookup(username)
        user = (self.login.user if self.login else None) or (self.workspace.owner if self.workspace else "")
        if user:
            with contextlib.suppress(ClusterError):
                self.directory.account(user)

    def banner(self, text: str) -> None:
        """Tell the client something before authentication ends; each text once."""
        if text not in self._banners:
            self._banners.add(text)
            self._send_banner(text)

    def deny(self, code: str, text: str, reason: str = "") -> int:
        """A failed login: counted for this connection and its source; the client reads
        `text`, the log the precise `reason` (when it differs)."""
        self.failures += 1
        self.denials.append(code)
        self.failures_by_source.record(self.source_key)
        self.metrics.auth_failures.labels(code).inc()
        self.banner(text)
        log.info("authentication denied", extra={**self._log_context(), "code": code, "reason": reason or text})
        return AUTH_FAILED

    # Paramiko's questions -----------------------------------------------------------------

    def auth_none(self, username: str) -> int:
        """OpenSSH's first request: too early to judge a key, time to start the reads. A
        malformed login is explained (that reveals nothing); whether the Workspace exists is
        not."""
        self.begun = True
        try:
            routing.parse_login(username)
        except LoginError as err:
            self.banner(str(err))
            return AUTH_FAILED
        if not self._looked_up:
            threading.Thread(target=self._prefetch, args=(username,), name="auth-prefetch", daemon=True).start()
        return AUTH_FAILED

    def auth_refused_method(self, method: str) -> int:
        self.begun = True
        return self.deny("method", f"{method} authentication is not accepted; use an SSH key")

    def auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        """May this key open the login? Asked before Paramiko checks the signature (and for a
        bare query without one), so nothing is claimed here: see auth_result."""
        self._proving = None
        self.begun = True
        if self.failures >= self.max_tries or self.failures_by_source.blocked(self.source_key):
            return self.deny("rate-limited", "too many failed attempts; try again later")
        self.lookup(username)
        if self._lookup_error or self.login is None:
            return self.deny("invalid-login" if not self.login else "cluster-unavailable", self._lookup_error)
        user = self.login.user or (self.workspace.owner if self.workspace else "")
        self.attempted_user = user
        try:
            account = self.directory.account(user) if self.workspace and user else None
        except ClusterError as err:
            return self.deny("cluster-unavailable", str(err))
        offered = keys.offered(key)
        access = routing.authorize(self.login, self.workspace, offered, list(account.keys) if account else [])
        if offered.fingerprint not in self.keys_tried and len(self.keys_tried) < self.max_tries:
            self.keys_tried.append(offered.fingerprint)
        if not access.allowed:
            return self.deny(access.code, routing.public_denial(self.login, offered), access.reason)
        if account is not None and account.disabled:
            access = Access(False, access.user, "user-disabled", disabled_denial(access.user))
        self._proving = (access, offered)
        return AUTH_SUCCESSFUL

    def auth_result(self, method: str, result: int) -> int:
        """Paramiko's verdict on a request, after it checked the signature: only now is the
        key proven, the user's connection slot claimed and precise reasons told."""
        proving, self._proving = self._proving, None
        if method != "publickey" or proving is None:
            return result
        access, offered = proving
        assert self.login is not None and self.workspace is not None
        if result != AUTH_SUCCESSFUL:
            return self.deny("bad-signature", routing.public_denial(self.login, offered))
        if not access.allowed:
            return self.deny(access.code, access.reason)
        if not self.limits.claim(access.user):
            self.metrics.rejected.labels("per-user").inc()
            return self.deny(
                "connection-limit",
                f"user {access.user!r} already has {self.limits.per_user} connections open (the limit)",
            )
        self._claimed = access.user
        self.identity = Identity(self.login, self.workspace, access.user, access.code, offered.fingerprint)
        return AUTH_SUCCESSFUL

    def release(self) -> None:
        """Give back the user's connection slot (the connection ended)."""
        claimed, self._claimed = self._claimed, ""
        if claimed:
            self.limits.release(claimed)
