"""The gateway's own SSH connection to a Workspace's sshd.

One upstream connection per client connection, authenticated with the gateway key that the
hooks install in every Workspace's authorized_keys. The sshd's host key is pinned to the public
key the hooks publish in the Workspace status (from its Secret), so nothing else on the pod
network can pose as the Workspace.
A just-started pod may not listen yet: connection refusals are retried until the deadline.
"""

import logging
import socket
import time

import paramiko

from gateway import keys
from gateway.settings import Settings
from gateway.transport import GatewayTransport, Tuning, tuned_socket

log = logging.getLogger("cps1.gateway.upstream")
RETRY_SECONDS = 0.5


class UpstreamError(Exception):
    """The Workspace's sshd could not be reached or refused us; the text is for the client."""


def _handshake(
    sock: socket.socket, settings: Settings, tuning: Tuning, host_key: str | None, remaining: float
) -> GatewayTransport:
    transport = GatewayTransport(tuned_socket(sock), tuning)
    # Paramiko waits 15 s for the version line; a busy sshd (a login storm) may take longer,
    # and giving up early only means dialling it again.
    transport.banner_timeout = remaining
    if host_key and host_key.startswith("ssh-ed25519 "):
        transport.get_security_options().key_types = ("ssh-ed25519",)
    try:
        transport.start_client(timeout=settings.upstream_connect_timeout_seconds)
    except (paramiko.SSHException, OSError, EOFError) as err:
        transport.close()
        raise ConnectionError(f"SSH handshake failed: {err}") from err
    return transport


def connect(
    settings: Settings,
    workspace: str,
    *,
    address: tuple[str, int],
    key: paramiko.PKey,
    host_key: str | None,
    tuning: Tuning,
) -> GatewayTransport:
    """An authenticated transport to the Workspace's sshd at `address`, or UpstreamError."""
    deadline = time.monotonic() + settings.upstream_connect_timeout_seconds
    if settings.verify_upstream_host_key and not host_key:
        raise UpstreamError(f"workspace {workspace!r} has no sshd host key yet")
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamError(f"cannot reach the sshd of workspace {workspace!r}: {last}")
        try:
            sock = socket.create_connection(address, timeout=min(5.0, remaining))
            pinned = host_key if settings.verify_upstream_host_key else None
            transport = _handshake(sock, settings, tuning, pinned, remaining)
            break
        except (ConnectionError, TimeoutError, OSError) as err:
            last = err
            time.sleep(min(RETRY_SECONDS, max(0.0, deadline - time.monotonic())))
    server_key = transport.get_remote_server_key()
    if settings.verify_upstream_host_key and host_key and not keys.matches_line(server_key, host_key):
        transport.close()
        log.error("upstream host key mismatch", extra={"workspace": workspace, "address": f"{address[0]}:{address[1]}"})
        raise UpstreamError(f"the sshd of workspace {workspace!r} presented an unexpected host key; refusing it")
    try:
        transport.auth_publickey(settings.upstream_user, key)
    except (paramiko.SSHException, OSError, EOFError) as err:
        transport.close()
        raise UpstreamError(f"the sshd of workspace {workspace!r} refused the gateway's key") from err
    return transport
