"""One client connection: authentication, its channels, its upstream, its audit line.

Threads per connection: Paramiko's transport thread (client side), this connection's own
thread (accepts channels and holds strong references to them, because Paramiko closes a
server channel nobody references; enforces the login grace and the idle timeout), the upstream
transport thread, and per relayed channel two or three pump threads.
"""

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import paramiko
from paramiko.common import cMSG_USERAUTH_BANNER
from paramiko.message import Message

from gateway import keys, lifecycle, routing, upstream
from gateway.cluster import ClusterError
from gateway.forwarding import Pair, SessionPair, TcpPair
from gateway.interface import Interface
from gateway.lifecycle import StartFailed
from gateway.limits import ChannelRefused, Windows, source_of
from gateway.routing import Access, Login, LoginError, OfferedKey, WorkspaceView
from gateway.session import Session
from gateway.transport import GatewayTransport, OpenRequest, Tuning
from gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logging.getLogger("cps1.gateway.connection")
audit = logging.getLogger("cps1.gateway.audit")
ACCEPT_POLL_SECONDS = 0.5
MAX_AUDITED_FORWARDS = 20


class Connection:
    def __init__(self, gateway: "Gateway", sock: socket.socket, peer: tuple[str, int]) -> None:
        self.gw = gateway
        self.settings = gateway.settings
        self.sock = sock
        # What per-source limits count (limits.source_of); admitted by Gateway._admit as one
        # unauthenticated connection of this source, until it authenticates or ends.
        self.source_key = source_of(peer[0])
        self._unauthenticated = True
        self._auth_begun = False
        self.source = f"{peer[0]}:{peer[1]}"
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.transport: GatewayTransport | None = None
        # Identity, settled during authentication.
        self.login: Login | None = None
        self.workspace: WorkspaceView | None = None
        self._looked_up = False
        self._lookup_error = ""
        self.user = ""
        # The user a denied attempt was for (the owner, or the <user> of <user>+<workspace>).
        self.attempted_user = ""
        self.key_fingerprint = ""
        self.via = ""
        self._claimed = ""
        # The access a key would have, between the key check and Paramiko's signature check.
        self._proving: tuple[Access, OfferedKey] | None = None
        self.failures = 0
        self.denials: list[str] = []
        self.keys_tried: list[str] = []
        self._banners: set[str] = set()
        # Channels and relays.
        self.channels: dict[int, paramiko.Channel] = {}
        # The windows each channel reserved from the gateway's buffer budget, by channel id.
        self.grants: dict[int, Windows] = {}
        self.sessions: dict[int, Session] = {}
        self.pairs: set[Pair] = set()
        self.kinds: Counter[str] = Counter()
        self.forwards: set[str] = set()
        self._pending_opens = 0
        self._lock = threading.Lock()
        # Traffic.
        self.bytes_up = 0
        self.bytes_down = 0
        self.last_traffic = self.started
        # Upstream.
        self._upstream: GatewayTransport | None = None
        self._upstream_lock = threading.Lock()
        # The dial started right after authentication, which the first session waits for.
        self._prewarming: threading.Thread | None = None
        self.closing = threading.Event()
        self.end_reason = ""

    @property
    def tuning(self) -> Tuning:
        return self.gw.upstream_tuning

    @property
    def log_context(self) -> dict[str, str]:
        return {
            "workspace": self.login.workspace if self.login else "",
            "user": self.user,
            "source": self.source,
        }

    # Lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._serve()
        except Exception:
            log.exception("connection failed", extra=self.log_context)
            self.end_reason = self.end_reason or "error"
        finally:
            self._count_grace()
            self._cleanup()
            self._audit()

    def _serve(self) -> None:
        t = GatewayTransport(self.sock, self.gw.tuning)
        self.transport = t
        t.local_version = "SSH-2.0-CPS1Gateway"
        # Version and key exchange must be done within the handshake grace.
        t.banner_timeout = t.handshake_timeout = self.settings.handshake_grace_seconds
        t.add_server_key(self.gw.host_key)
        t.direct_tcpip_handler = self.on_direct_tcpip
        t.on_authenticated = self._authenticated
        t.auth_result = self.auth_result
        try:
            t.start_server(server=Interface(self))
        except (paramiko.SSHException, EOFError, OSError) as err:
            self.end_reason = f"handshake failed: {err}"
            return
        while t.is_active():
            chan = t.accept(ACCEPT_POLL_SECONDS)
            if chan is not None:
                with self._lock:
                    self.channels[chan.get_id()] = chan
                self.touch()
            reason = self._expired()
            if reason:
                self.end_reason = reason
                return
        self.end_reason = self.end_reason or "closed"

    def _expired(self) -> str:
        """Why this connection must end now, or ''."""
        assert self.transport is not None
        now = time.monotonic()
        if not self.transport.is_authenticated():
            grace = self._grace_exceeded(now)
            if grace:
                return grace
        if self.failures >= self.settings.max_auth_tries:
            return "too many authentication failures"
        idle = self.settings.idle_timeout_seconds
        if idle and now - self.last_traffic > idle and not self._pending_opens:
            log.info(
                "closing an idle connection", extra={**self.log_context, "idle_seconds": round(now - self.last_traffic)}
            )
            return "idle timeout"
        deadline = self.gw.drain_deadline
        if deadline is not None and (now >= deadline or not self.live_channels()):
            return "gateway shutting down"
        with self._lock:
            for chanid in [i for i, ch in self.channels.items() if ch.closed]:
                del self.channels[chanid]
                self.sessions.pop(chanid, None)
                self._release(self.grants.pop(chanid, None))
        return ""

    def _grace_exceeded(self, now: float) -> str:
        """Which grace time an unauthenticated connection has used up, or ''."""
        if not self._auth_begun and now - self.started >= self.settings.handshake_grace_seconds:
            return "handshake grace time exceeded"
        if now - self.started >= self.settings.login_grace_seconds:
            return "login grace time exceeded"
        return ""

    def _count_grace(self) -> None:
        """A connection that ended without authenticating in time (here, or by Paramiko's own
        banner and handshake timeouts) counts as a failed login of its source: silent sockets
        held open to exhaust the gateway are throttled like bad keys."""
        if self.transport is not None and self.transport.authenticated:
            return
        if self._grace_exceeded(time.monotonic()):
            self.denials.append("grace-exceeded")
            self.gw.auth_failures.record(self.source_key)
            self.gw.metrics.auth_failures.labels("grace-exceeded").inc()

    def _leave_unauthenticated(self) -> None:
        with self._lock:
            leaving, self._unauthenticated = self._unauthenticated, False
        if leaving:
            self.gw.unauthenticated.done(self.source_key)

    def _cleanup(self) -> None:
        self.closing.set()
        self._leave_unauthenticated()
        notice = {
            "idle timeout": "closing this connection: no traffic for too long",
            "gateway shutting down": "the gateway is restarting; reconnect in a moment",
        }
        for pair in list(self.pairs):
            if isinstance(pair, SessionPair) and self.end_reason in notice:
                pair.abort(notice[self.end_reason])
            pair.close()
        with self._upstream_lock:
            if self._upstream is not None:
                self._upstream.close()
        if self.transport is not None:
            self.transport.close()
        with contextlib.suppress(OSError):
            self.sock.close()
        if self._claimed:
            self.gw.limits.release(self._claimed)
        with self._lock:
            grants, self.grants = list(self.grants.values()), {}
        for windows in grants:
            self._release(windows)

    def _audit(self) -> None:
        authenticated = bool(self.transport and self.transport.authenticated)
        audit.info(
            "ssh connection",
            extra={
                "event": "ssh-connection",
                "login": self.login.text if self.login else "",
                "workspace": self.login.workspace if self.login else "",
                "user": self.user or self.attempted_user,
                "key": self.key_fingerprint,
                "via": self.via,
                "source": self.source,
                "authenticated": authenticated,
                "denials": self.denials,
                "keys_tried": self.keys_tried,
                "started": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_seconds": round(time.monotonic() - self.started, 3),
                "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down,
                "channels": dict(self.kinds),
                "forwards": sorted(self.forwards),
                "end": self.end_reason,
            },
        )
        self.gw.metrics.connections_total.labels("authenticated" if authenticated else "unauthenticated").inc()

    # Authentication (transport thread) -----------------------------------------------------

    def _lookup(self, username: str) -> None:
        """Parse the login and fetch the Workspace, once per connection (SSH fixes the user
        name for the whole authentication)."""
        if self._looked_up:
            return
        self._looked_up = True
        try:
            self.login = routing.parse_login(username)
            obj = self.gw.lookups.workspace(self.login.workspace)
        except (LoginError, ClusterError) as err:
            self._lookup_error = str(err)
            return
        self.workspace = WorkspaceView.from_object(obj) if obj else None

    def banner(self, text: str) -> None:
        """Tell the client something before authentication ends (USERAUTH_BANNER, RFC 4252
        5.4; OpenSSH prints it on stderr). Each text once per connection."""
        t = self.transport
        if t is None or t.authenticated or text in self._banners:
            return
        self._banners.add(text)
        m = Message()
        m.add_byte(cMSG_USERAUTH_BANNER)
        m.add_string(f"cps1: {text}\r\n")
        m.add_string("en")
        t._send_message(m)

    def _deny(self, code: str, text: str, reason: str = "") -> int:
        """A failed login: counted for this connection and its source; the client reads
        `text`, the log the precise `reason` (when it differs)."""
        self.failures += 1
        self.denials.append(code)
        self.gw.auth_failures.record(self.source_key)
        self.gw.metrics.auth_failures.labels(code).inc()
        self.banner(text)
        log.info("authentication denied", extra={**self.log_context, "code": code, "reason": reason or text})
        return paramiko.AUTH_FAILED

    def auth_none(self, username: str) -> int:
        """OpenSSH's first request: too early to judge a key. A malformed login is explained
        (that reveals nothing); whether the Workspace exists is not."""
        self._auth_begun = True
        self._lookup(username)
        if self._lookup_error:
            self.banner(self._lookup_error)
        return paramiko.AUTH_FAILED

    def auth_refused_method(self, method: str) -> int:
        self._auth_begun = True
        return self._deny("method", f"{method} authentication is not accepted; use an SSH key")

    def auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        """May this key open the login? Asked before Paramiko checks the signature (and for a
        bare query without one), so nothing is claimed here: see auth_result."""
        self._proving = None
        self._auth_begun = True
        if self.failures >= self.settings.max_auth_tries or self.gw.auth_failures.blocked(self.source_key):
            return self._deny("rate-limited", "too many failed attempts; try again later")
        self._lookup(username)
        if self._lookup_error or self.login is None:
            return self._deny("invalid-login" if not self.login else "cluster-unavailable", self._lookup_error)
        user = self.login.user or (self.workspace.owner if self.workspace else "")
        self.attempted_user = user
        try:
            user_keys = self._keys_of(user) if self.workspace and user else []
        except ClusterError as err:
            return self._deny("cluster-unavailable", str(err))
        offered = keys.offered(key)
        access = routing.authorize(self.login, self.workspace, offered, user_keys)
        if offered.fingerprint not in self.keys_tried and len(self.keys_tried) < self.settings.max_auth_tries:
            self.keys_tried.append(offered.fingerprint)
        if not access.allowed:
            return self._deny(access.code, routing.public_denial(self.login, offered), access.reason)
        self._proving = (access, offered)
        return paramiko.AUTH_SUCCESSFUL

    def auth_result(self, method: str, result: int) -> int:
        """Paramiko's verdict on a request, after it checked the signature: only now is the
        key proven, the user's connection slot claimed and precise reasons told."""
        proving, self._proving = self._proving, None
        if method != "publickey" or proving is None:
            return result
        access, offered = proving
        if result != paramiko.AUTH_SUCCESSFUL:
            assert self.login is not None
            return self._deny("bad-signature", routing.public_denial(self.login, offered))
        if not self.gw.limits.claim(access.user):
            self.gw.metrics.rejected.labels("per-user").inc()
            return self._deny(
                "connection-limit",
                f"user {access.user!r} already has {self.gw.limits.per_user} connections open (the limit)",
            )
        self._claimed = access.user
        self._leave_unauthenticated()
        self.user, self.via = access.user, access.code
        self.key_fingerprint = offered.fingerprint
        return paramiko.AUTH_SUCCESSFUL

    def _keys_of(self, user: str) -> list[str]:
        return self.gw.lookups.user_keys(user)

    def _authenticated(self) -> None:
        """Dial the Workspace's sshd now if it runs, overlapping the client's next round trip."""
        log.info("authenticated", extra={**self.log_context, "key": self.key_fingerprint, "via": self.via})
        if self.workspace and self.workspace.running and self.workspace.phase == "Running":
            self._prewarming = threading.Thread(target=self._prewarm, name="prewarm", daemon=True)
            self._prewarming.start()

    def _prewarm(self) -> None:
        with contextlib.suppress(UpstreamError, ClusterError):
            self.upstream()

    # Workspace and upstream ----------------------------------------------------------------

    def ensure_running(
        self,
        interactive: bool,
        progress: lifecycle.Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        """Bring the Workspace up if needed. While this connection's upstream is connected the
        Workspace runs by definition, so the many channels an IDE opens cost no API call."""
        assert self.login is not None
        name = self.login.workspace
        prewarming = self._prewarming
        if prewarming is not None:
            prewarming.join(self.settings.upstream_connect_timeout_seconds)
        current = self._upstream
        if current is not None and current.is_active():
            return

        def started() -> None:
            self.gw.metrics.starts.labels("requested").inc()
            self.gw.activity.written(name)

        spent = lifecycle.ensure_running(
            self.gw.cluster,
            name,
            interactive,
            self.settings.start_timeout_seconds,
            self.settings.restart_grace_seconds,
            progress,
            on_start=started,
            cancelled=cancelled or self.closing.is_set,
        )
        if spent:
            self.gw.metrics.start_latency.observe(spent)
            self.gw.metrics.starts.labels("running").inc()

    def upstream(self) -> GatewayTransport:
        """The connection's SSH transport to the Workspace's sshd, dialled on first use and
        again after the Workspace restarted."""
        assert self.login is not None
        name = self.login.workspace
        with self._upstream_lock:
            current = self._upstream
            if current is not None and current.is_active():
                return current
            if self.closing.is_set():
                raise UpstreamError("the connection is closing")
            try:
                host_key = self.gw.lookups.workspace_host_key(name) if self.settings.verify_upstream_host_key else None
            except ClusterError as err:
                raise UpstreamError(str(err)) from err
            began = time.monotonic()
            try:
                address = self.gw.resolve(name)
            except ClusterError as err:
                raise UpstreamError(str(err)) from err
            except (KeyError, ValueError) as err:
                raise UpstreamError(f"no address for the sshd of workspace {name!r}") from err
            try:
                fresh = upstream.connect(
                    self.settings, name, address, self.gw.upstream_key, host_key, self.gw.upstream_tuning
                )
            except UpstreamError as err:
                self.gw.lookups.workspaces.forget(name)  # a new host key or address: read afresh
                self.gw.metrics.upstream_errors.inc()
                log.warning("upstream connection failed", extra={**self.log_context, "error": str(err)})
                raise
            self.gw.metrics.connect_latency.observe(time.monotonic() - began)
            self._upstream = fresh
            return fresh

    # Channels -----------------------------------------------------------------------------

    def live_channels(self) -> int:
        with self._lock:
            return sum(1 for ch in self.channels.values() if not ch.closed) + self._pending_opens

    def may_open_channel(self) -> bool:
        return self.gw.drain_deadline is None and self.live_channels() < self.settings.max_channels_per_connection

    def _reserve(self, kind: str) -> Windows | None:
        """Windows for a new channel from the gateway's buffer budget, or None (counted)."""
        try:
            return self.gw.channel_budget.reserve(self.user)
        except ChannelRefused as err:
            self.gw.metrics.rejected.labels("channels").inc()
            log.info("channel refused", extra={**self.log_context, "kind": kind, "reason": str(err)})
            return None

    def _release(self, windows: Windows | None) -> None:
        if windows is not None:
            self.gw.channel_budget.release(self.user, windows)

    def admit_session(self, chanid: int) -> bool:
        """A client's session channel (transport thread): within the limits, and granted its
        window from the budget before Paramiko confirms it."""
        assert self.transport is not None
        windows = self._reserve("session") if self.may_open_channel() else None
        if windows is None:
            return False
        with self._lock:
            self.grants[chanid] = windows
        self.transport.grant_window(windows.down)
        self.touch()
        return True

    def upstream_window(self, chanid: int) -> int:
        """The window to grant the Workspace's sshd for the channel relaying `chanid`."""
        with self._lock:
            windows = self.grants.get(chanid)
        return windows.up if windows else self.gw.channel_budget.small.up

    def session(self, channel: paramiko.Channel) -> Session:
        with self._lock:
            found = self.sessions.get(channel.get_id())
            if found is None:
                found = self.sessions[channel.get_id()] = Session(self, channel)
                self.channels[channel.get_id()] = channel
            return found

    def touch(self) -> None:
        self.last_traffic = time.monotonic()

    def count_up(self, n: int) -> None:
        self.bytes_up += n
        self.last_traffic = time.monotonic()
        self.gw.metrics.bytes_up.inc(n)

    def count_down(self, n: int) -> None:
        self.bytes_down += n
        self.last_traffic = time.monotonic()
        self.gw.metrics.bytes_down.inc(n)

    def track(self, pair: Pair, kind: str) -> None:
        """Count a relayed channel for metrics and activity until it closes."""
        assert self.login is not None
        name = self.login.workspace
        family = "direct-tcpip" if kind == "direct-tcpip" else "session"
        gauge = self.gw.metrics.sessions.labels(family)
        with self._lock:
            self.kinds[kind] += 1
            self.pairs.add(pair)
        gauge.inc()
        self.gw.activity.opened(name)

        def untrack() -> None:
            with self._lock:
                self.pairs.discard(pair)
            gauge.dec()
            self.gw.activity.closed(name)

        pair.on_close(untrack)

    def on_direct_tcpip(self, request: OpenRequest) -> None:
        """A client's port-forward (ssh -L, -W, ProxyJump, VS Code): answered from a worker."""
        assert self.transport is not None
        windows = self._reserve("direct-tcpip") if self.may_open_channel() else None
        if windows is None:
            self.transport.reject_open(request, paramiko.OPEN_FAILED_RESOURCE_SHORTAGE, "cps1: too many channels")
            return
        with self._lock:
            self._pending_opens += 1
        self.touch()
        threading.Thread(target=self._open_tcp, args=(request, windows), name="direct-tcpip", daemon=True).start()

    def _open_tcp(self, request: OpenRequest, windows: Windows) -> None:
        if not self._relay_tcp(request, windows):
            self._release(windows)

    def _relay_tcp(self, request: OpenRequest, windows: Windows) -> bool:
        """Open the Workspace side, then confirm the client's open; False if it never was."""
        t = self.transport
        assert t is not None
        host, port = request.destination
        try:
            self.ensure_running(interactive=False)
            up = self.upstream().open_channel(
                "direct-tcpip",
                request.destination,
                request.origin,
                window_size=windows.up,
                max_packet_size=self.tuning.max_packet_size,
                timeout=30,
            )
        except (StartFailed, UpstreamError) as err:
            t.reject_open(request, paramiko.OPEN_FAILED_CONNECT_FAILED, f"cps1: {err}")
            return False
        except paramiko.ChannelException as err:
            t.reject_open(request, err.code, f"cps1: the workspace could not connect to {host}:{port}: {err.text}")
            return False
        except (paramiko.SSHException, OSError, EOFError) as err:
            t.reject_open(request, paramiko.OPEN_FAILED_CONNECT_FAILED, f"cps1: {err}")
            return False
        finally:
            with self._lock:
                self._pending_opens -= 1
        if not t.is_active():
            up.close()
            return False
        down = t.accept_open(request, windows.down)
        with self._lock:
            self.channels[down.get_id()] = down
            self.grants[down.get_id()] = windows
            if len(self.forwards) < MAX_AUDITED_FORWARDS:
                self.forwards.add(f"{host}:{port}")
        pair = TcpPair(down, up, self.count_up, self.count_down)
        self.track(pair, "direct-tcpip")
        pair.start()
        return True
