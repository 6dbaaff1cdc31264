"""Authentication of real gateway Connections, driven by Paramiko clients over socket pairs.

The Workspace and user records come from a small in-memory directory with the two reads the
Authenticator makes (`workspace`, `account`); everything else is the production code: the
Gateway's limits, the Connection, Paramiko's signature check.
"""

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import paramiko
import pytest
from paramiko.common import OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
from paramiko.message import Message

from gateway import keys, transport
from gateway.auth import Account
from gateway.connection import Connection
from gateway.routing import WorkspaceView
from gateway.server import Gateway
from gateway.settings import Settings
from gateway.transport import Tuning
from tests.unit.gateway.test_relay import Link

HOST_KEY = keys.load_private_key(keys.generate_ed25519())
ALICE = keys.load_private_key(keys.generate_ed25519())
MALLORY = keys.load_private_key(keys.generate_ed25519())
WORKSPACE = "api"


class Directory:
    """alice owns the Stopped Workspace `api` (Stopped: no upstream dial after login)."""

    def workspace(self, name: str) -> WorkspaceView | None:
        return WorkspaceView(name, "alice", True, "Stopped") if name == WORKSPACE else None

    def account(self, user: str) -> Account | None:
        return Account("alice", (keys.public_line(ALICE),)) if user == "alice" else None

    def forget(self, workspace: str) -> None:
        pass


class ForgedKey(paramiko.Ed25519Key):
    """The victim's public key, with a signature nobody verified: what an attacker can offer
    with only the public half."""

    def __init__(self, public: paramiko.PKey) -> None:
        super().__init__(data=public.asbytes())

    def sign_ssh_data(self, data: bytes, algorithm: str | None = None) -> Message:
        m = Message()
        m.add_string("ssh-ed25519")
        m.add_string(os.urandom(64))
        return m


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    settings = Settings(listen="127.0.0.1:0", max_connections_per_user=1, auth_failures_per_source=100)
    gw = Gateway(settings, Directory(), HOST_KEY, HOST_KEY, directory=Directory())  # type: ignore[arg-type]  # an in-memory directory for the cluster
    yield gw
    gw.listener.close()
    for conn in list(gw.connections):
        conn.closing.set()
        if conn.transport is not None:
            conn.transport.close()


def connect(gw: Gateway, source: str = "192.0.2.7") -> tuple[paramiko.Transport, Connection]:
    """A client transport joined to a gateway Connection served in a thread."""
    a, b = socket.socketpair()
    conn = Connection(gw, b, (source, 40000))
    gw.connections.add(conn)
    threading.Thread(target=conn.handshake, daemon=True).start()
    client = paramiko.Transport(a)
    client.start_client(timeout=10)
    return client, conn


def login(client: paramiko.Transport, key: paramiko.PKey) -> bool:
    try:
        client.auth_publickey(WORKSPACE, key)
    except paramiko.AuthenticationException:
        return False
    return client.is_authenticated()


def test_forged_signatures_do_not_take_the_victims_slots_and_count_as_failures(gateway: Gateway) -> None:
    attackers = [connect(gateway) for _ in range(3)]
    for client, _ in attackers:
        assert not login(client, ForgedKey(ALICE))
        assert client.is_active()  # the attacker keeps the connection open
    victim, conn = connect(gateway, "198.51.100.1")
    assert login(victim, ALICE)
    assert conn.user == "alice" and gateway.limits.user_count("alice") == 1

    for _, attacker in attackers:
        assert attacker.auth.denials == ["bad-signature"] and attacker.user == ""
    assert gateway.metrics.auth_failures.labels("bad-signature")._value.get() == 3
    assert len(gateway.auth_failures._failures["192.0.2.7"]) == 3
    for client, _ in [*attackers, (victim, conn)]:
        client.close()


def test_the_slot_is_claimed_once_the_signature_is_verified(gateway: Gateway) -> None:
    first, _ = connect(gateway)
    assert login(first, ALICE)
    second, conn = connect(gateway)
    assert not login(second, ALICE)  # a proven key over the per-user limit
    assert conn.auth.denials == ["connection-limit"]
    assert gateway.limits.user_count("alice") == 1
    first.close()
    second.close()


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def served(**overrides: Any) -> Gateway:
    settings = Settings(**{"listen": "127.0.0.1:0", "auth_failures_per_source": 100, **overrides})
    gw = Gateway(settings, Directory(), HOST_KEY, HOST_KEY, directory=Directory())  # type: ignore[arg-type]  # an in-memory directory for the cluster
    gw.start()
    return gw


def greeting(sock: socket.socket) -> bytes:
    """What the gateway says first: its SSH version, or b'' when it closed the socket."""
    sock.settimeout(10)
    try:
        return sock.recv(100)
    except ConnectionResetError:
        return b""


def test_silent_sockets_are_limited_per_source_and_dropped_after_the_handshake_grace() -> None:
    gw = served(max_startups_per_source=3, handshake_grace_seconds=1.0)
    try:
        held = [socket.create_connection(gw.address) for _ in range(3)]
        assert all(greeting(s).startswith(b"SSH-2.0-CPS1Gateway") for s in held)
        extra = socket.create_connection(gw.address)
        assert greeting(extra) == b""  # refused before SSH is spoken
        assert gw.unauthenticated.count == 3
        for s in held:  # silent after the version line: dropped after the grace time
            s.settimeout(10)
            assert s.recv(4096) == b""
        assert eventually(lambda: gw.unauthenticated.count == 0)
        assert len(gw.auth_failures._failures["127.0.0.1"]) == 3  # each counts as a failed login
        again = socket.create_connection(gw.address)
        assert greeting(again).startswith(b"SSH-2.0-")
        for s in [*held, extra, again]:
            s.close()
    finally:
        gw.stop(drain=0)


def test_an_authenticated_connection_no_longer_counts_as_a_startup() -> None:
    gw = served(max_startups_per_source=1)
    try:
        client = paramiko.Transport(socket.create_connection(gw.address))
        client.start_client(timeout=10)
        assert gw.unauthenticated.count == 1
        assert login(client, ALICE)
        assert gw.unauthenticated.count == 0
        second = socket.create_connection(gw.address)  # the source's one startup is free again
        assert greeting(second).startswith(b"SSH-2.0-")
        second.close()
        client.close()
    finally:
        gw.stop(drain=0)


def test_a_workspace_reaches_the_clients_agent_only_after_a_session_asked(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """The Connection relays agent channels from the Workspace's sshd (`link.server`, reached
    through the upstream `link.client`) to the client only once the client's session asked for
    forwarding: an unasked one is refused (the Workspace's user controls its sshd)."""
    client, conn = connect(gateway)
    assert login(client, ALICE)
    link = Link(Tuning())
    try:
        link.client.agent_handler = lambda request: conn.on_agent_open(link.client, request)
        with (
            caplog.at_level("WARNING", logger="cps1.gateway.connection"),
            pytest.raises(paramiko.ChannelException) as refused,
        ):
            link.server.open_channel(transport.AGENT_CHANNEL, timeout=10)
        assert refused.value.code == OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        # The gateway refused it itself: the client (which would refuse too) was never asked.
        assert "agent channel refused: not requested" in caplog.messages

        agents: list[paramiko.Channel] = []
        client.open_session().request_forward_agent(agents.append)  # what ssh -A sends
        assert eventually(lambda: conn.agent == "forwarded")
        workspace_side = link.server.open_channel(transport.AGENT_CHANNEL, timeout=10)
        workspace_side.sendall(b"sign this")
        assert eventually(lambda: bool(agents))
        assert agents[0].recv(100) == b"sign this"
        agents[0].sendall(b"signed")
        assert workspace_side.recv(100) == b"signed"
        assert conn.channels.kinds[transport.AGENT_CHANNEL] == 1
    finally:
        link.close()
        client.close()


def os_threads() -> int:
    """The process's threads as the kernel counts them (threading does not see the
    gateway's short-lived `_thread` ones)."""
    return len(os.listdir("/proc/self/task"))


def settled_threads() -> int:
    """The thread count once earlier tests' closed transports have ended (a transport thread
    notices a close within its one-second read timeout)."""
    last = -1
    while (now := os_threads()) != last:
        last = now
        time.sleep(1.5)
    return now


def test_an_open_connection_costs_its_transport_thread_only() -> None:
    """After the key exchange a connection has no thread of its own: the supervisor checks its
    deadlines and its channels are held from the transport thread. (A Stopped Workspace: no
    upstream transport.) Ending it is noticed and audited by the supervisor."""
    gw = served()
    try:
        assert eventually(gw._supervisor.is_alive)
        before = settled_threads()
        clients, sessions = [], []
        for _ in range(5):
            client = paramiko.Transport(socket.create_connection(gw.address))
            client.start_client(timeout=10)
            assert login(client, ALICE)
            sessions.append(client.open_session())  # referenced: Paramiko closes a dropped Channel
            clients.append(client)
        # Per connection: the client's transport thread (this test's) and the gateway's.
        assert eventually(lambda: os_threads() - before == 2 * len(clients)), os_threads() - before
        # Held by the gateway (Paramiko confirms the open to the client just before it hands it over).
        assert eventually(lambda: all(len(conn.channels._channels) == 1 for conn in gw.connections))
        for client in clients:
            client.close()
        assert eventually(lambda: not gw.connections)
        assert gw.metrics.connections_total.labels("authenticated")._value.get() == 5
    finally:
        gw.stop(drain=0)
