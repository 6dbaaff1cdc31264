"""The accept loop: limits at the door, a short-lived thread per key exchange, one supervisor
thread for every connection's deadlines and its user's standing (disabled or deleted users lose
open connections), a graceful stop.

Refused before any SSH is spoken (the socket is closed, as sshd does under MaxStartups): a
source that failed authentication too often recently, a source with too many unauthenticated
connections, a new connection refused by MaxStartups' random early drop, and a connection over
the total limit.
On stop the listener closes at once, connections without channels end, and sessions get
`drain_seconds` to finish before they are closed.
"""

import _thread
import contextlib
import dataclasses
import logging
import select
import socket
import threading
import time
from collections.abc import Callable

import paramiko

from gateway import activity, auth, cluster, settings
from gateway.auth import Directory
from gateway.connection import Connection
from gateway.limits import (
    AuthFailures,
    ChannelBudget,
    ConnectionLimits,
    MaxStartups,
    Unauthenticated,
    Windows,
    source_of,
)
from gateway.lookups import Lookups
from gateway.metrics import Metrics
from gateway.transport import Tuning, tuned_socket

log = logging.getLogger("cps1.gateway.server")
ACCEPT_POLL_SECONDS = 0.5
# How often the supervisor checks every connection's deadlines (login grace, idle, drain).
SUPERVISE_SECONDS = 0.5
# How often it re-reads the accounts of the users with open connections (one read per user,
# through the directory's cache shared with logins): a user disabled or deleted loses open
# connections at most LOOKUP_CACHE_SECONDS + ACCOUNT_CHECK_SECONDS + SUPERVISE_SECONDS later.
ACCOUNT_CHECK_SECONDS = 2.0
READY_CACHE_SECONDS = 5.0
LISTEN_BACKLOG = 1024


class Gateway:
    def __init__(
        self,
        config: settings.Settings,
        kube: cluster.Cluster,
        host_key: paramiko.PKey,
        upstream_key: paramiko.PKey,
        metrics: Metrics | None = None,
        resolve: Callable[[str], tuple[str, int]] | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.settings = config
        # Where a Workspace's sshd listens: the `upstream` setting, or a resolver given in-process
        # (the e2e tests run one loopback sshd per Workspace).
        self.resolve = resolve or self._upstream_address
        self.cluster = kube
        # Who may log in (gateway/auth.py): cached reads of the cluster, or one given in-process.
        self.directory: Directory = directory or Lookups(kube, config.lookup_cache_seconds)
        self.host_key = host_key
        self.upstream_key = upstream_key
        self.metrics = metrics or Metrics()
        self.tuning = Tuning(
            window_size=config.window_size,
            max_packet_size=config.max_packet_size,
            ciphers=config.ciphers,
            fallback_ciphers=config.fallback_ciphers,
            rekey_bytes=config.rekey_bytes,
            keepalive_seconds=config.keepalive_seconds,
        )
        # Workspace sshds are OpenSSH: AES-GCM, no fallback.
        self.upstream_tuning = dataclasses.replace(
            self.tuning, window_size=config.upstream_window_size or config.window_size, fallback_ciphers=()
        )
        self.limits = ConnectionLimits(config.max_connections, config.max_connections_per_user)
        self.auth_failures = AuthFailures(config.auth_failures_per_source, config.auth_failure_window_seconds)
        self.channel_budget = ChannelBudget(
            config.buffer_budget_mib * 1024 * 1024,
            config.max_channels_per_user,
            full=Windows(self.tuning.window_size, self.upstream_tuning.window_size),
            small=Windows(config.small_window_size, config.small_window_size),
            full_per_user=config.full_windows_per_user,
        )
        self.unauthenticated = Unauthenticated(MaxStartups.parse(config.max_startups), config.max_startups_per_source)
        self.activity = activity.ActivityRecorder(
            lambda name, now: kube.patch_workspace(name, cluster.activity_patch(now, start=False)),
            config.activity_interval_seconds,
            on_result=lambda ok: self.metrics.activity_writes.labels("ok" if ok else "error").inc(),
        )
        self.connections: set[Connection] = set()
        # Connections past their key exchange, whose deadlines the supervisor checks.
        self._watched: set[Connection] = set()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor_stopped = threading.Event()
        # Held while a worker re-reads the accounts of open connections (one at a time).
        self._checking_accounts = threading.Lock()
        self.drain_deadline: float | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready_at = 0.0
        self._ready = False
        host, port = settings.split_address(config.listen)
        # Room for a burst of connections (a login storm) while the accept loop catches up.
        self.listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG, reuse_port=False)
        self.listener.setblocking(False)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]

    # Serving -----------------------------------------------------------------------------

    def _upstream_address(self, workspace: str) -> tuple[str, int]:
        """The `upstream` setting for `workspace`; a `{service_ip}` in it is read from the API."""
        return self.settings.upstream_address(workspace, service_ip=self.cluster.service_ip)

    def serve_forever(self) -> None:
        self.activity.start()
        self._supervisor.start()
        log.info(
            "gateway listening",
            extra={"address": f"{self.address[0]}:{self.address[1]}", "host_key": self.host_key.fingerprint},
        )
        while not self._stopped.is_set():
            try:
                readable, _, _ = select.select([self.listener], [], [], ACCEPT_POLL_SECONDS)
            except (OSError, ValueError):
                break
            if readable:
                self._accept_waiting()

    def _accept_waiting(self) -> None:
        """Every connection the kernel has queued, not one per wakeup."""
        while True:
            try:
                sock, peer = self.listener.accept()
            except OSError:  # BlockingIOError: the queue is empty (the listener does not block)
                return
            self._admit(sock, peer)

    def _refuse(self, sock: socket.socket, limit: str, message: str, source: str) -> None:
        self.metrics.rejected.labels(limit).inc()
        log.warning(message, extra={"source": source, "limit": limit})
        sock.close()

    def _admit(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        source = source_of(peer[0])
        if self.auth_failures.blocked(source):
            self._refuse(sock, "auth-failures", "refused a source with too many failed logins", source)
            return
        refused = self.unauthenticated.admit(source)
        if refused:
            self._refuse(sock, refused, "refused a connection: too many unauthenticated connections", source)
            return
        if not self.limits.open():
            self.unauthenticated.done(source)
            self._refuse(sock, "total", "refused a connection: gateway at its connection limit", source)
            return
        conn = Connection(self, tuned_socket(sock), peer)
        with self._lock:
            self.connections.add(conn)
        self.metrics.connections.inc()
        # threading.Thread.start waits until the new thread has run. Under a login storm on a
        # busy machine that took ~0.1 s per connection and capped accepts at ~10 a second (a
        # profile showed the accept loop waiting in Thread.start while 200 clients queued), so
        # the key exchange's thread is started without waiting for it.
        _thread.start_new_thread(self._handshake, (conn,))

    def _handshake(self, conn: Connection) -> None:
        """The key exchange; then the connection lives on Paramiko's threads, watched by the
        supervisor."""
        if conn.handshake():
            with self._lock:
                self._watched.add(conn)
        else:
            self._finish(conn)

    def _supervise(self) -> None:
        """One thread for every connection's deadlines (instead of one per connection). Ending
        a connection may wait on its peers (a last message to a full window), so that runs on
        a thread of its own, and so do the account reads (a slow API server must not hold the
        deadlines)."""
        next_account_check = time.monotonic() + ACCOUNT_CHECK_SECONDS
        while not self._supervisor_stopped.wait(SUPERVISE_SECONDS):
            with self._lock:
                watched = list(self._watched)
            now = time.monotonic()
            if now >= next_account_check and self._checking_accounts.acquire(blocking=False):
                next_account_check = now + ACCOUNT_CHECK_SECONDS
                _thread.start_new_thread(self._check_accounts, (watched,))
            for conn in watched:
                try:
                    over = conn.over()
                except Exception:
                    log.exception("connection check failed", extra=conn.log_context)
                    conn.end_reason = conn.end_reason or "error"
                    over = True
                if over:
                    with self._lock:
                        self._watched.discard(conn)
                    _thread.start_new_thread(self._finish, (conn,))

    def _check_accounts(self, watched: list[Connection]) -> None:
        """Revoke the open connections of users disabled or deleted since they logged in."""
        try:
            by_user: dict[str, list[Connection]] = {}
            for conn in watched:
                if conn.user:
                    by_user.setdefault(conn.user, []).append(conn)
            for user, conns in by_user.items():
                try:
                    reason = auth.revocation(self.directory.account(user))
                except cluster.ClusterError:
                    continue  # not known now: the connections stay until a read answers
                if reason:
                    for conn in conns:
                        conn.revoke(reason)
        except Exception:
            log.exception("account check failed")
        finally:
            self._checking_accounts.release()

    def _finish(self, conn: Connection) -> None:
        try:
            conn.finish()
        finally:
            with self._lock:
                self.connections.discard(conn)
            self.limits.close()
            self.metrics.connections.dec()

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, and __main__)."""
        self._thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, drain: float | None = None) -> None:
        """Stop accepting, let sessions finish for `drain` seconds, then close what is left."""
        drain = self.settings.drain_seconds if drain is None else drain
        self._stopped.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        if self._thread is not None:
            self._thread.join(5)
        self.drain_deadline = time.monotonic() + drain
        log.info("gateway stopping", extra={"connections": len(self.connections), "drain_seconds": drain})
        while time.monotonic() < self.drain_deadline + 2 and self.connections:
            time.sleep(0.1)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        # The supervisor finishes (audits) the connections just closed, then stops.
        closed_by = time.monotonic() + 4 * SUPERVISE_SECONDS
        while self.connections and time.monotonic() < closed_by:
            time.sleep(0.1)
        self._supervisor_stopped.set()
        self.activity.stop()

    # Health ------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Accepting, and the Kubernetes API answers (checked at most every few seconds)."""
        if self._stopped.is_set():
            return False
        now = time.monotonic()
        if now - self._ready_at > READY_CACHE_SECONDS:
            self._ready = self.cluster.reachable()
            self._ready_at = now
        return self._ready
