"""One client connection: its transport, its channels, its upstream, its audit line.

Authentication is the Authenticator's (gateway/auth.py), the channel registry is
gateway/channels.py; this class wires them to Paramiko and to the Workspace's sshd.

Threads per connection: Paramiko's transport thread (client side) and the upstream transport
thread, and per relayed channel: for a session one output thread (stdout and stderr) and a
stdin thread until the client's EOF, for a forward or an agent channel one thread per
direction. A short-lived thread runs the key exchange (Paramiko's start_server waits for it);
after that the gateway's one supervisor thread asks every connection whether it is over
(`over`: login grace, idle timeout, drain, a user disabled since login), and a channel the
client opens is registered from the transport thread (`on_channel`; Paramiko closes a server
channel nobody references), so no thread per connection waits in Paramiko's accept.
"""

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import paramiko
from paramiko.common import (
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_FAILED_CONNECT_FAILED,
    OPEN_FAILED_RESOURCE_SHORTAGE,
)

from common.workspace_limits import Limits
from gateway import lifecycle, upstream
from gateway.auth import Authenticator
from gateway.channels import Channels
from gateway.cluster import ClusterError
from gateway.forwarding import Pair, SessionPair, TcpPair
from gateway.interface import Interface
from gateway.lifecycle import StartFailed
from gateway.limits import ChannelRefused, Windows, source_of
from gateway.routing import Login, WorkspaceView
from gateway.session import Session
from gateway.transport import AGENT_CHANNEL, DIRECT_TCPIP, GatewayTransport, OpenRequest, Tuning
from gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logging.getLogger("cps1.gateway.connection")
audit = logging.getLogger("cps1.gateway.audit")


def open_failure(err: Exception, refused: str) -> tuple[int, str]:
    """The reason code and text to refuse a deferred open with, from why its other side did
    not open: that side's own refusal (`refused`: who refused, and its reason), else a failure
    to connect."""
    if isinstance(err, paramiko.ChannelException):
        return err.code, f"cps1: {refused}: {err.text}"
    return OPEN_FAILED_CONNECT_FAILED, f"cps1: {err}"


class Connection:
    def __init__(self, gateway: "Gateway", sock: socket.socket, peer: tuple[str, int]) -> None:
        self.gw = gateway
        self.settings = gateway.settings
        self.sock = sock
        # What per-source limits count (limits.source_of); admitted by Gateway._admit as one
        # unauthenticated connection of this source, until it authenticates or ends.
        self.source_key = source_of(peer[0])
        self._unauthenticated = True
        self.source = f"{peer[0]}:{peer[1]}"
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.transport: GatewayTransport | None = None
        self.auth = Authenticator(
            gateway.directory,
            limits=gateway.limits,
            failures=gateway.auth_failures,
            metrics=gateway.metrics,
            source_key=self.source_key,
            max_tries=self.settings.max_auth_tries,
            send_banner=self._send_banner,
            log_context=lambda: self.log_context,
        )
        self.channels = Channels()
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
        # Set by the gateway's account check (`revoke`): the user was disabled or deleted.
        self.revoked = ""
        # ssh -A on this connection: "" (not asked), "forwarded" or "refused", for the audit;
        # the Workspace's agent channels are relayed only once a session's request was accepted.
        self.agent = ""

    @property
    def login(self) -> Login | None:
        return self.auth.login

    @property
    def workspace(self) -> WorkspaceView | None:
        return self.auth.workspace

    @property
    def user(self) -> str:
        """Who the connection authenticated as ('' before)."""
        return self.auth.identity.user if self.auth.identity else ""

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

    def handshake(self) -> bool:
        """The version and key exchange (Paramiko's start_server waits for it, so the gateway
        runs this on a short-lived thread); False if the connection is already over."""
        t = GatewayTransport(self.sock, self.gw.tuning)
        self.transport = t
        t.local_version = "SSH-2.0-CPS1Gateway"
        # Version and key exchange must be done within the handshake grace.
        t.banner_timeout = t.handshake_timeout = self.settings.handshake_grace_seconds
        t.add_server_key(self.gw.host_key)
        t.direct_tcpip_handler = self.on_direct_tcpip
        t.on_authenticated = self._authenticated
        t.auth_result = self._auth_result
        t.on_channel = self._on_channel
        try:
            t.start_server(server=Interface(self.auth, self))
        except (paramiko.SSHException, EOFError, OSError) as err:
            self.end_reason = f"handshake failed: {err}"
            return False
        except Exception:
            log.exception("connection failed", extra=self.log_context)
            self.end_reason = "error"
            return False
        return True

    def over(self) -> bool:
        """Whether the connection has ended or must end now (its end_reason says why); asked
        by the gateway's supervisor twice a second."""
        assert self.transport is not None
        if not self.transport.is_active():
            self.end_reason = self.end_reason or "closed"
            return True
        reason = self._expired()
        if reason:
            self.end_reason = reason
        return bool(reason)

    def finish(self) -> None:
        """Close everything the connection holds and write its audit line."""
        try:
            self._count_grace()
            self._cleanup()
        finally:
            self._audit()

    def revoke(self, reason: str) -> None:
        """End this connection at the supervisor's next check: its user was disabled or
        deleted (`auth.revocation`) since it authenticated."""
        if not self.revoked and not self.closing.is_set():
            self.revoked = reason
            log.warning("closing a connection: its user lost access", extra={**self.log_context, "reason": reason})
            self.gw.metrics.revoked.labels(reason).inc()

    def _on_channel(self, chan: paramiko.Channel) -> None:
        """A session channel Paramiko confirmed (transport thread): held from now on."""
        self.channels.add(chan)
        self.touch()

    def _expired(self) -> str:
        """Why this connection must end now, or ''."""
        assert self.transport is not None
        if self.revoked:
            return self.revoked
        now = time.monotonic()
        if not self.transport.is_authenticated():
            grace = self._grace_exceeded(now)
            if grace:
                return grace
        if self.auth.failures >= self.settings.max_auth_tries:
            return "too many authentication failures"
        idle = self.settings.idle_timeout_seconds
        if idle and now - self.last_traffic > idle and not self.channels.pending:
            log.info(
                "closing an idle connection", extra={**self.log_context, "idle_seconds": round(now - self.last_traffic)}
            )
            return "idle timeout"
        deadline = self.gw.drain_deadline
        if deadline is not None and (now >= deadline or not self.live_channels()):
            return "gateway shutting down"
        for windows in self.channels.prune():
            self._release(windows)
        return ""

    def _grace_exceeded(self, now: float) -> str:
        """Which grace time an unauthenticated connection has used up, or ''."""
        if not self.auth.begun and now - self.started >= self.settings.handshake_grace_seconds:
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
            self.auth.denials.append("grace-exceeded")
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
            "user-disabled": "your account was disabled; the session is closed",
            "user-deleted": "your account was deleted; the session is closed",
        }
        for pair in self.channels.pairs():
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
        self.auth.release()
        for windows in self.channels.release_all():
            self._release(windows)

    def _audit(self) -> None:
        authenticated = bool(self.transport and self.transport.authenticated)
        identity = self.auth.identity
        audit.info(
            "ssh connection",
            extra={
                "event": "ssh-connection",
                "login": self.login.text if self.login else "",
                "workspace": self.login.workspace if self.login else "",
                "user": self.user or self.auth.attempted_user,
                "key": identity.key_fingerprint if identity else "",
                "via": identity.via if identity else "",
                "source": self.source,
                "authenticated": authenticated,
                "denials": self.auth.denials,
                "keys_tried": self.auth.keys_tried,
                "started": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_seconds": round(time.monotonic() - self.started, 3),
                "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down,
                "channels": dict(self.channels.kinds),
                "forwards": sorted(self.channels.forwards),
                "agent": self.agent,
                "end": self.end_reason,
            },
        )
        self.gw.metrics.connections_total.labels("authenticated" if authenticated else "unauthenticated").inc()

    # Authentication (transport thread) -----------------------------------------------------

    def _send_banner(self, text: str) -> None:
        if self.transport is not None:
            self.transport.send_banner(text)

    def _auth_result(self, method: str, result: int) -> int:
        """The Authenticator's verdict after Paramiko's signature check; a proven connection
        no longer counts against its source's unauthenticated ones."""
        result = self.auth.auth_result(method, result)
        if self.auth.identity is not None and result == AUTH_SUCCESSFUL:
            self._leave_unauthenticated()
        return result

    def _authenticated(self) -> None:
        """Dial the Workspace's sshd now if it runs, overlapping the client's next round trip."""
        identity = self.auth.identity
        assert identity is not None
        log.info("authenticated", extra={**self.log_context, "key": identity.key_fingerprint, "via": identity.via})
        if self.workspace and self.workspace.running and self.workspace.phase == "Running":
            self._prewarming = threading.Thread(target=self._prewarm, name="prewarm", daemon=True)
            self._prewarming.start()

    def _prewarm(self) -> None:
        with contextlib.suppress(UpstreamError, ClusterError):
            self.upstream()

    # Workspace and upstream ----------------------------------------------------------------

    def ensure_running(
        self,
        *,
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
            interactive=interactive,
            timeout=self.settings.start_timeout_seconds,
            restart_grace=self.settings.restart_grace_seconds,
            limits=Limits(workspaces=0, running=self.settings.max_running_per_user),
            group_limits=self.settings.limits_by_group,
            progress=progress,
            on_start=started,
            cancelled=cancelled or self.closing.is_set,
        )
        if spent:
            self.gw.metrics.start_latency.observe(spent)
            self.gw.metrics.starts.labels("running").inc()

    def _host_key(self, name: str) -> str | None:
        """The sshd host key the hooks publish in the Workspace's status."""
        found = self.gw.directory.workspace(name)
        return found.host_key if found and found.host_key else None

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
                host_key = self._host_key(name) if self.settings.verify_upstream_host_key else None
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
                    self.settings,
                    name,
                    address=address,
                    key=self.gw.upstream_key,
                    host_key=host_key,
                    tuning=self.gw.upstream_tuning,
                )
            except UpstreamError as err:
                self.gw.directory.forget(name)  # a new host key or address: read afresh
                self.gw.metrics.upstream_errors.inc()
                log.warning("upstream connection failed", extra={**self.log_context, "error": str(err)})
                raise
            self.gw.metrics.connect_latency.observe(time.monotonic() - began)
            fresh.agent_handler = lambda request: self.on_agent_open(fresh, request)
            self._upstream = fresh
            return fresh

    # Channels -----------------------------------------------------------------------------

    def live_channels(self) -> int:
        return self.channels.live()

    def may_open_channel(self) -> bool:
        return self.gw.drain_deadline is None and self.channels.live() < self.settings.max_channels_per_connection

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
        self.channels.grant(chanid, windows)
        self.transport.grant_window(windows.down)
        self.touch()
        return True

    def upstream_window(self, chanid: int) -> int:
        """The window to grant the Workspace's sshd for the channel relaying `chanid`."""
        windows = self.channels.windows(chanid)
        return windows.up if windows else self.gw.channel_budget.small.up

    def session(self, channel: paramiko.Channel) -> Session:
        return self.channels.session(channel, lambda: Session(self, channel))

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
        family = kind if kind in (DIRECT_TCPIP, AGENT_CHANNEL) else "session"
        gauge = self.gw.metrics.sessions.labels(family)
        self.channels.track(pair, kind)
        gauge.inc()
        self.gw.activity.opened(name)

        def untrack() -> None:
            self.channels.untrack(pair)
            gauge.dec()
            self.gw.activity.closed(name)

        pair.on_close(untrack)

    def on_direct_tcpip(self, request: OpenRequest) -> None:
        """A client's port-forward (ssh -L, -W, ProxyJump, VS Code): answered from a worker."""
        assert self.transport is not None
        self._defer_open(self.transport, request, DIRECT_TCPIP, self._relay_tcp)

    def _defer_open(
        self,
        answerer: GatewayTransport,
        request: OpenRequest,
        kind: str,
        relay: Callable[[OpenRequest, Windows], bool],
    ) -> None:
        """A peer's channel open, within the limits and granted windows from the budget, then
        answered by `relay` from a worker (the transport thread must not wait); `relay`
        returns False if the channel never opened, and its windows go back."""
        windows = self._reserve(kind) if self.may_open_channel() else None
        if windows is None:
            answerer.reject_open(request, OPEN_FAILED_RESOURCE_SHORTAGE, "cps1: too many channels")
            return
        self.channels.opening()
        self.touch()

        def work() -> None:
            if not relay(request, windows):
                self._release(windows)

        threading.Thread(target=work, name=kind, daemon=True).start()

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
        except (StartFailed, UpstreamError, paramiko.SSHException, OSError, EOFError) as err:
            t.reject_open(request, *open_failure(err, f"the workspace could not connect to {host}:{port}"))
            return False
        finally:
            self.channels.opened()
        if not t.is_active():
            up.close()
            return False
        self.channels.forward(f"{host}:{port}")
        self._start_relay(t.accept_open(request, windows.down), up, windows, DIRECT_TCPIP)
        return True

    def _start_relay(self, down: paramiko.Channel, up: paramiko.Channel, windows: Windows, kind: str) -> None:
        """Relay a forward or agent channel pair, its client side holding `windows`."""
        self.channels.add(down, windows)
        pair = TcpPair(down, up, self.count_up, self.count_down)
        self.track(pair, kind)
        pair.start()

    # Agent forwarding ---------------------------------------------------------------------

    def agent_requested(self, accepted: bool) -> None:
        """A session asked for ssh -A (transport thread); once one was accepted, it stays."""
        if self.agent != "forwarded":
            self.agent = "forwarded" if accepted else "refused"

    def on_agent_open(self, up_transport: GatewayTransport, request: OpenRequest) -> None:
        """The Workspace's sshd opens an agent channel (a process there uses SSH_AUTH_SOCK), on
        the upstream transport's thread: relayed to the client from a worker, like a
        direct-tcpip open in the other direction, only if a session of this connection asked."""
        if self.agent != "forwarded":
            log.warning("agent channel refused: not requested", extra=self.log_context)
            up_transport.reject_open(request, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, "cps1: agent not forwarded")
            return
        relay = functools.partial(self._relay_agent, up_transport)
        self._defer_open(up_transport, request, AGENT_CHANNEL, relay)

    def _relay_agent(self, up_transport: GatewayTransport, request: OpenRequest, windows: Windows) -> bool:
        """Open the client side, then confirm the Workspace's open; False if it never was."""
        t = self.transport
        assert t is not None
        try:
            down = t.open_channel(
                AGENT_CHANNEL, window_size=windows.down, max_packet_size=self.tuning.max_packet_size, timeout=30
            )
        except (paramiko.SSHException, OSError, EOFError) as err:
            up_transport.reject_open(request, *open_failure(err, "the client refused the agent channel"))
            return False
        finally:
            self.channels.opened()
        if not up_transport.is_active():
            down.close()
            return False
        self._start_relay(down, up_transport.accept_open(request, windows.up), windows, AGENT_CHANNEL)
        return True
        up = up_transport.accept_open(request, windows.up)
        pair = TcpPair(down, up, self.count_up, self.count_down)
        self.track(pair, AGENT_CHANNEL)
        pair.start()
        return True
