"""The relay machinery on real Paramiko transports joined by socket pairs (no network):

    user (client) --A/B-- [down channel | pumps | up channel] --C/D-- "sshd" (server)

Checks the order at the end of a session (output, stderr, exit status), exit-signal, half-close
of forwarded channels, deferred direct-tcpip opens, bounded buffering under a slow reader, and
the rekey-safe transport under constant rekeys.
"""

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import paramiko
import pytest
from paramiko.common import AUTH_SUCCESSFUL, OPEN_SUCCEEDED, cMSG_CHANNEL_DATA, cMSG_CHANNEL_EXTENDED_DATA
from paramiko.message import Message

from gateway import keys, transport
from gateway.forwarding import CHUNK, SessionPair, TcpPair
from gateway.session import Session
from gateway.transport import GatewayTransport, OpenRequest, Tuning

HOST_KEY = keys.load_private_key(keys.generate_ed25519())


class OpenServer(paramiko.ServerInterface):
    """Accepts anything: the tests drive both ends themselves."""

    def get_allowed_auths(self, username: str) -> str:
        return "none"

    def check_auth_none(self, username: str) -> int:
        return AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return True

    def check_channel_direct_tcpip_request(self, chanid: int, origin: object, destination: object) -> int:
        return OPEN_SUCCEEDED

    def check_channel_forward_agent_request(self, channel: paramiko.Channel) -> bool:
        self.agent_requested = True
        return True


class Link:
    """A client and a server GatewayTransport talking over a socket pair."""

    def __init__(self, tuning: Tuning, handler=None) -> None:
        a, b = socket.socketpair()
        self.server = GatewayTransport(b, tuning)
        self.server.add_server_key(HOST_KEY)
        self.server.direct_tcpip_handler = handler
        self.interface = OpenServer()
        self.server.start_server(event=threading.Event(), server=self.interface)
        self.client = GatewayTransport(a, tuning)
        self.client.start_client(timeout=10)
        self.client.auth_none("user")

    def close(self) -> None:
        self.client.close()
        self.server.close()


@pytest.fixture
def links() -> Iterator[list[Link]]:
    made: list[Link] = []
    yield made
    for link in made:
        link.close()


def exec_pair(links: list[Link], tuning: Tuning | None = None) -> tuple[paramiko.Channel, ...]:
    """user channel, down, up, sshd channel: an exec session through a SessionPair-ready middle."""
    tuning = tuning or Tuning()
    user_link, sshd_link = Link(tuning), Link(tuning)
    links += [user_link, sshd_link]
    user = user_link.client.open_session()
    user.exec_command("cmd")
    down = user_link.server.accept(10)
    up = sshd_link.client.open_session()
    up.exec_command("cmd")
    sshd = sshd_link.server.accept(10)
    assert down is not None and sshd is not None
    return user, down, up, sshd


def read_all(recv) -> bytes:
    out = b""
    while True:
        data = recv(1 << 20)
        if not data:
            return out
        out += data


def test_session_end_order_output_then_exit_status(links: list[Link]) -> None:
    user, down, up, sshd = exec_pair(links)
    counted: list[int] = []
    pair = SessionPair(down, up, counted.append, counted.append)
    pair.start()
    user.sendall(b"stdin data")
    user.shutdown_write()
    assert read_all(sshd.recv) == b"stdin data"  # then EOF: the client's half-close arrived
    payload = os.urandom(3 * 1024 * 1024)
    sshd.sendall(payload)
    sshd.sendall_stderr(b"warning\n")
    sshd.send_exit_status(3)
    sshd.shutdown_write()
    sshd.close()
    got = read_all(user.recv)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    assert read_all(user.recv_stderr) == b"warning\n"
    assert user.recv_exit_status() == 3
    assert pair.done.wait(10)
    assert sum(counted) == len(payload) + len(b"warning\n") + len(b"stdin data")


def relay_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name in ("stdin", "output"))


def test_an_idle_session_holds_one_output_thread_once_stdin_ended(links: list[Link]) -> None:
    """One thread serves stdout and stderr; the stdin thread ends at the client's EOF, and a
    client close after it still reaches the Workspace."""
    user, down, up, sshd = exec_pair(links)
    before = relay_threads()
    pair = SessionPair(down, up, lambda n: None, lambda n: None)
    pair.start()
    assert relay_threads() - before == 2
    user.shutdown_write()
    assert read_all(sshd.recv) == b""
    deadline = time.monotonic() + 10
    while relay_threads() - before > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay_threads() - before == 1
    sshd.sendall_stderr(b"err 1\n")  # stderr and stdout interleaved still both arrive
    sshd.sendall(b"out\n")
    sshd.sendall_stderr(b"err 2\n")
    assert user.recv(100) == b"out\n"
    got = b""
    while len(got) < len(b"err 1\nerr 2\n"):
        got += user.recv_stderr(100)
    assert got == b"err 1\nerr 2\n"

    user.close()
    assert pair.done.wait(10) and up.closed
    assert sshd.status_event.wait(10) and sshd.closed
    while relay_threads() - before > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay_threads() == before


def test_exit_signal_is_passed_on(links: list[Link]) -> None:
    user, down, up, sshd = exec_pair(links)
    pair = SessionPair(down, up, lambda n: None, lambda n: None)
    transport.set_request_hook(up, lambda kind, args: Session._workspace_request(pair, kind, args))
    seen: list[tuple] = []

    def record(kind: str, args: tuple[Any, ...]) -> bool:
        seen.append(args)
        return False

    transport.set_request_hook(user, record)
    pair.start()
    transport.send_exit_signal(sshd, "TERM", False, "terminated")
    sshd.shutdown_write()
    sshd.close()
    assert pair.done.wait(10)
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [("TERM", False, "terminated")]


def test_a_client_close_closes_the_workspace_side(links: list[Link]) -> None:
    user, down, up, sshd = exec_pair(links)
    pair = SessionPair(down, up, lambda n: None, lambda n: None)
    pair.start()
    user.close()
    assert pair.done.wait(10)
    assert sshd.status_event.wait(10) and sshd.closed


def test_buffering_is_bounded_and_a_slow_reader_does_not_stall(links: list[Link]) -> None:
    window = 256 * 1024
    user, down, up, sshd = exec_pair(links, Tuning(window_size=window))
    pair = SessionPair(down, up, lambda n: None, lambda n: None)
    pair.start()
    payload = os.urandom(32 * 1024 * 1024)
    sent = [0]

    def produce() -> None:
        for i in range(0, len(payload), 65536):
            sshd.sendall(payload[i : i + 65536])
            sent[0] = i + 65536
        sshd.send_exit_status(0)
        sshd.close()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    time.sleep(1.0)  # the user reads nothing for a second
    # What left the sshd is held by the two windows and one chunk in the pump, nothing more.
    assert sent[0] <= 2 * window + CHUNK + 2 * 65536, sent[0]
    got = read_all(user.recv)
    assert len(got) == len(payload) and hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    assert user.recv_exit_status() == 0
    producer.join(10)


def test_direct_tcpip_opens_are_answered_later_and_half_closes_pass(links: list[Link]) -> None:
    requests: list[OpenRequest] = []
    user_link = Link(Tuning(), handler=requests.append)
    sshd_link = Link(Tuning())
    links += [user_link, sshd_link]
    opened: list[paramiko.Channel] = []
    opener = threading.Thread(
        target=lambda: opened.append(user_link.client.open_channel("direct-tcpip", ("db", 5432), ("here", 1)))
    )
    opener.start()
    deadline = time.monotonic() + 10
    while not requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert requests[0].destination == ("db", 5432) and requests[0].origin == ("here", 1)
    time.sleep(0.2)
    assert not opened  # the client is still waiting: nothing answered yet
    up = sshd_link.client.open_channel("direct-tcpip", requests[0].destination, requests[0].origin)
    target = sshd_link.server.accept(10)
    down = user_link.server.accept_open(requests[0])
    opener.join(10)
    (user,) = opened
    pair = TcpPair(down, up, lambda n: None, lambda n: None)
    pair.start()
    user.sendall(b"ping")
    user.shutdown_write()
    assert target is not None and read_all(target.recv) == b"ping"
    target.sendall(b"pong")  # the other direction still works after the half-close
    target.close()
    assert read_all(user.recv) == b"pong"
    assert pair.done.wait(10)


def test_refused_direct_tcpip_open(links: list[Link]) -> None:
    link: Link = Link(Tuning(), handler=lambda request: link.server.reject_open(request, 2, "cps1: refused"))
    links.append(link)
    with pytest.raises(paramiko.ChannelException) as refused:
        link.client.open_channel("direct-tcpip", ("db", 5432), ("here", 1), timeout=10)
    assert refused.value.code == 2
    assert link.client.is_active()


def test_transport_thread_replies_during_rekeys_are_deferred_not_deadlocked(
    links: list[Link], monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko #822: with a rekey every 32 KiB, every channel close lands during a rekey the
    server started; the server's transport thread must not block on its own NEWKEYS."""
    flushed = [0]
    original = GatewayTransport._flush_deferred

    def counting(self: GatewayTransport) -> None:
        flushed[0] += len(self._deferred)
        original(self)

    monkeypatch.setattr(GatewayTransport, "_flush_deferred", counting)
    link = Link(Tuning(rekey_bytes=32 * 1024))
    links.append(link)
    began = time.monotonic()
    for _ in range(30):
        chan = link.client.open_session(timeout=10)
        chan.exec_command("x")
        server_side = link.server.accept(10)
        assert server_side is not None
        # Data crossing the rekey threshold, then a close queued right behind it: the server
        # starts a rekey and must answer the CLOSE before the client's NEWKEYS arrives.
        chan.sendall(os.urandom(100 * 1024))
        chan.close()
        assert len(read_all(server_side.recv)) == 100 * 1024
        assert server_side.status_event.wait(10)
    assert time.monotonic() - began < 25
    assert link.client.is_active() and link.server.is_active()
    assert flushed[0] > 0  # the deferral path really ran


def test_signal_and_break_reach_the_channel_hook_and_others_reach_paramiko(links: list[Link]) -> None:
    link = Link(Tuning())
    links.append(link)
    chan = link.client.open_session()
    server_side = link.server.accept(10)
    assert server_side is not None
    seen: list[tuple[str, object]] = []

    def record(kind: str, args: tuple[Any, ...]) -> bool:
        seen.append((kind, *args))
        return kind == "signal"

    transport.set_request_hook(server_side, record)
    transport.send_signal(chan, "INT")
    transport.send_break(chan, 500)
    chan.send_exit_status(0)  # not an extra kind: Paramiko's own handling still applies
    deadline = time.monotonic() + 10
    while (len(seen) < 2 or server_side.exit_status != 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [("signal", "INT"), ("break", 500)]
    assert server_side.exit_status == 0


GCM = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
CTR = ("aes128-ctr", "aes256-ctr")


@pytest.mark.parametrize(
    ("version", "offered"),
    [
        ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", GCM),
        ("SSH-2.0-OpenSSH_for_Windows_8.1", GCM),
        ("SSH-2.0-OpenSSH_6.2", GCM),
        ("SSH-2.0-OpenSSH_6.1", GCM + CTR),
        ("SSH-2.0-PuTTY_Release_0.81", GCM),
        ("SSH-2.0-PuTTY_Release_0.76", GCM + CTR),
        ("SSH-2.0-JSCH_0.2.17", GCM + CTR),
        ("SSH-2.0-SSHJ_0.38.0", GCM + CTR),
        ("", GCM + CTR),
    ],
)
def test_ciphers_offered_by_client_version(version: str, offered: tuple[str, ...]) -> None:
    assert transport.ciphers_for(version, GCM, CTR) == offered


def negotiate(client_version: str, client_ciphers: tuple[str, ...]) -> str:
    a, b = socket.socketpair()
    server = GatewayTransport(b, Tuning(ciphers=GCM, fallback_ciphers=CTR))
    server.add_server_key(HOST_KEY)
    server.start_server(event=threading.Event(), server=OpenServer())
    client = paramiko.Transport(a)
    client.local_version = client_version
    client.get_security_options().ciphers = client_ciphers
    try:
        client.start_client(timeout=10)
        return str(client.remote_cipher)  # type: ignore[attr-defined]  # no public accessor for the negotiated cipher
    finally:
        client.close()
        server.close()


def test_a_client_without_gcm_still_connects_and_openssh_gets_gcm() -> None:
    assert negotiate("SSH-2.0-JSCH_0.2.17", ("aes128-ctr",)) == "aes128-ctr"
    # OpenSSH's own order puts aes128-ctr first; the gateway does not offer it CTR at all.
    assert negotiate("SSH-2.0-OpenSSH_9.2", ("aes128-ctr", "aes128-gcm@openssh.com")) == "aes128-gcm@openssh.com"


def flood(chan: paramiko.Channel, total: int, extended: bool = False, packet: int = 32768) -> None:
    """CHANNEL_DATA (or EXTENDED_DATA) sent straight to the transport, ignoring the peer's
    window, until done or disconnected."""
    with contextlib.suppress(EOFError, OSError):
        for _ in range(total // packet):
            m = Message()
            m.add_byte(cMSG_CHANNEL_EXTENDED_DATA if extended else cMSG_CHANNEL_DATA)
            m.add_int(chan.remote_chanid)
            if extended:
                m.add_int(1)
            m.add_string(b"x" * packet)
            chan.transport._send_user_message(m)  # type: ignore[union-attr]  # a raw request no public API sends


def session(links: list[Link], window: int) -> tuple[Link, paramiko.Channel, paramiko.Channel]:
    """A link with one exec session: (link, client side, server side)."""
    link = Link(Tuning(window_size=window))
    links.append(link)
    chan = link.client.open_session()
    chan.exec_command("cmd")
    server_side = link.server.accept(10)
    assert server_side is not None
    return link, chan, server_side


@pytest.mark.parametrize("extended", [False, True])
def test_a_peer_that_ignores_the_window_is_disconnected_not_buffered(links: list[Link], extended: bool) -> None:
    """Stock Paramiko buffers whatever arrives; the gateway allows a tenth over the window (as
    OpenSSH does) and then drops the connection."""
    window = 256 * 1024
    link, chan, server_side = session(links, window)
    flood(chan, 4 * window, extended)
    deadline = time.monotonic() + 10
    while link.server.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert link.server.window_overrun and not link.server.is_active()
    assert len(server_side.in_buffer) + len(server_side.in_stderr_buffer) <= transport.window_limit(window)


def test_a_peer_within_the_window_is_never_cut(links: list[Link]) -> None:
    window = 256 * 1024
    link, honest, server_side = session(links, window)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(read_all(server_side.recv)), daemon=True)
    reader.start()
    honest.sendall(os.urandom(8 * window))  # honouring the window as the reader returns it
    honest.shutdown_write()
    reader.join(10)
    assert len(got[0]) == 8 * window
    full = link.client.open_session()
    full.exec_command("cmd")
    flood(full, window)  # the whole window at once, nobody reading
    time.sleep(0.5)
    assert link.server.is_active() and not link.server.window_overrun


def test_agent_request_reaches_the_workspace_and_its_agent_channels_are_deferred(links: list[Link]) -> None:
    """The gateway's upstream asks for the agent, and the agent channels the Workspace's sshd
    then opens wait for the handler's answer (the relay opens the client's side meanwhile)."""
    link = Link(Tuning())
    links.append(link)
    upstream, sshd = link.client, link.server
    requests: list[OpenRequest] = []
    upstream.agent_handler = requests.append
    session = upstream.open_session()
    transport.request_agent(session)
    session.exec_command("ssh-add -l")
    assert sshd.accept(10) is not None and getattr(link.interface, "agent_requested", False)

    opened: list[paramiko.Channel] = []
    opener = threading.Thread(target=lambda: opened.append(sshd.open_channel(transport.AGENT_CHANNEL, timeout=10)))
    opener.start()
    deadline = time.monotonic() + 10
    while not requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert requests[0].kind == transport.AGENT_CHANNEL
    assert not opened  # waiting for the relay
    up = upstream.accept_open(requests[0])
    opener.join(10)
    (agent_side,) = opened
    agent_side.sendall(b"request")
    assert up.recv(100) == b"request"


def test_without_a_handler_an_agent_channel_from_the_workspace_is_refused(links: list[Link]) -> None:
    """A Workspace's sshd (its user controls it) cannot reach a client's agent unasked."""
    link = Link(Tuning())
    links.append(link)
    with pytest.raises(paramiko.ChannelException) as refused:
        link.server.open_channel(transport.AGENT_CHANNEL, timeout=10)
    assert refused.value.code == paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    assert link.client.is_active()
