"""A Paramiko Transport fit for a relay, and the few raw channel messages Paramiko lacks.

Paramiko is a fine SSH library but was not written for a man-in-the-middle relay. This module
holds every use of its internals in one place (paramiko>=3.4; checked against 5.1):

- Rekey safety: when the transport thread must answer something (a CLOSE, a request reply, a
  channel open confirmation) while a key exchange is in progress, stock Paramiko either blocks
  that thread waiting for the peer's NEWKEYS that only it can read, killing the connection
  after 30 s (paramiko #822), or sends the message anyway, which RFC 4253 7.1 forbids and a
  strict peer answers by disconnecting (reproduced in tests/unit/gateway/test_relay.py). Here
  those messages are queued and sent the moment NEWKEYS arrives, before sending re-opens for
  other threads, so nothing overtakes them.
- Channel requests Paramiko drops: `signal`, `break` and `exit-signal` are handed, parsed, to
  a hook set with `set_request_hook`, so the relay can pass them on.
- Fewer relay threads: a session's stdout and stderr wake one thread (`watch_output`, fed by
  the channel's receive buffers), and a peer's CLOSE calls a hook (`set_close_hook`), so no
  thread has to wait for a client to close a session whose stdin ended.
- Banners (`send_banner`): Paramiko's server sends none, and a denied client should read why.
- direct-tcpip opens are answered asynchronously: the transport thread hands them to a worker
  that starts the Workspace or dials upstream, and the answer (with a readable failure text
  the client prints) is sent later. A slow upstream never stalls the client's other channels.
  The agent channels a Workspace's sshd opens (`auth-agent@openssh.com`, after
  `request_agent`) are deferred the same way on the upstream side, while a worker opens the
  matching channel to the client.
- Authentication ends in a hook (`auth_result`) that sees Paramiko's verdict *after* it
  checked the signature: a connection slot is claimed only for a proven key, and a forged
  signature counts as a failed login (ServerInterface is asked before the signature is checked).
- Receive windows are enforced: Paramiko buffers whatever a peer sends, window or not, so a
  client (or a Workspace's sshd, which its user controls) could fill the gateway's memory by
  ignoring the window. As OpenSSH does, a peer that overruns a channel's window by more than a
  tenth is disconnected. Each channel's window is chosen when it opens (`grant_window`), from
  the gateway's buffer budget.
- Tuning measured in /work/shared/notes/gateway.md: TCP_NODELAY (Paramiko sets none), 2 MiB
  windows (bigger is slower: the OpenSSH peer buffers up to the window), AES-GCM (a third less
  CPU per byte than aes128-ctr+hmac), rarer rekeys.
"""

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.common import (
    MSG_CHANNEL_CLOSE,
    MSG_CHANNEL_DATA,
    MSG_CHANNEL_EXTENDED_DATA,
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_FAILURE,
    cMSG_CHANNEL_OPEN_FAILURE,
    cMSG_CHANNEL_OPEN_SUCCESS,
    cMSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_SUCCESS,
    cMSG_USERAUTH_BANNER,
)
from paramiko.message import Message

# RFC 4253 7.1: between KEXINIT and NEWKEYS only transport messages (below 50) may be sent.
FIRST_DEFERRABLE = 50
# Channel requests Paramiko ignores that a relay must carry.
EXTRA_REQUESTS = frozenset({"signal", "break", "exit-signal"})
# (kind, its arguments: signal (name,), break (milliseconds,), exit-signal (name, core dumped,
# message)) -> whether it was handled.
RequestHook = Callable[[str, tuple], bool]
# Agent forwarding (OpenSSH's PROTOCOL): the session request, and the channel the server opens
# back for each use of the agent.
AGENT_REQUEST = "auth-agent-req@openssh.com"
AGENT_CHANNEL = "auth-agent@openssh.com"
DIRECT_TCPIP = "direct-tcpip"
# Bytes a peer may send beyond a channel's window before it is disconnected (OpenSSH's grace).
WINDOW_GRACE_DIVISOR = 10


def window_limit(window: int) -> int:
    """The most a channel with this window can ever buffer from its peer."""
    return window + window // WINDOW_GRACE_DIVISOR


@dataclass(frozen=True)
class Tuning:
    window_size: int = 2 * 1024 * 1024
    max_packet_size: int = 32768
    ciphers: tuple[str, ...] = ()
    # Offered after `ciphers` to clients not known to speak them (server side only).
    fallback_ciphers: tuple[str, ...] = ()
    rekey_bytes: int = 0
    keepalive_seconds: int = 0


# Clients known to speak AES-GCM: OpenSSH since 6.2 (also its Windows port), PuTTY since 0.78.
_GCM_CLIENTS = (
    (re.compile(r"^SSH-2\.0-OpenSSH_(?:for_Windows_)?(\d+)\.(\d+)"), (6, 2)),
    (re.compile(r"^SSH-2\.0-PuTTY_Release_(\d+)\.(\d+)"), (0, 78)),
)


def ciphers_for(client_version: str, preferred: tuple[str, ...], fallback: tuple[str, ...]) -> tuple[str, ...]:
    """The ciphers to offer a client. The client's order decides (RFC 4253 7.1), and OpenSSH
    lists aes128-ctr before AES-GCM: offering CTR to it would cost a third more CPU per byte.
    So clients known to speak GCM get `preferred` only; any other (JetBrains' and other Java
    libraries, old PuTTY) also gets `fallback`, so it still connects."""
    for pattern, minimum in _GCM_CLIENTS:
        found = pattern.match(client_version or "")
        if found and (int(found.group(1)), int(found.group(2))) >= minimum:
            return preferred
    return preferred + tuple(c for c in fallback if c not in preferred)


@dataclass(frozen=True)
class OpenRequest:
    """A peer's channel open, not yet answered: a client's direct-tcpip, or a Workspace sshd's
    agent channel (which has no addresses)."""

    sender: int
    window: int
    max_packet: int
    destination: tuple[str, int] = ("", 0)
    origin: tuple[str, int] = ("", 0)
    kind: str = DIRECT_TCPIP


class _FlushingEvent(threading.Event):
    """`clear_to_send`: flushes the deferred messages right before sending is allowed again.

    Paramiko sets this event only in _parse_newkeys while holding clear_to_send_lock, so the
    flush happens before any user thread can send with the new keys."""

    def __init__(self, flush: Callable[[], None]) -> None:
        super().__init__()
        self._flush = flush

    def set(self) -> None:
        self._flush()
        super().set()


class OutputReady:
    """Wakes one waiter when a channel's stdout or stderr buffer holds data or is closed (at
    EOF or close), or when `wake` is called: one relay thread then serves both streams.
    Paramiko's own `Channel.fileno()` would cost two file descriptors per channel, and a
    close by another thread would leave a poller on it asleep."""

    class _Flag:
        def __init__(self, owner: "OutputReady") -> None:
            self._owner = owner
            self.value = False

        def set(self) -> None:
            with self._owner._cv:
                self.value = True
                self._owner._cv.notify_all()

        def clear(self) -> None:
            with self._owner._cv:
                self.value = False

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._woken = False
        self.stdout, self.stderr = self._Flag(self), self._Flag(self)

    def wake(self) -> None:
        with self._cv:
            self._woken = True
            self._cv.notify_all()

    def wait(self) -> None:
        with self._cv:
            self._cv.wait_for(lambda: self.stdout.value or self.stderr.value or self._woken)


def watch_output(chan: paramiko.Channel) -> OutputReady:
    """An OutputReady fed by the channel's two receive buffers (their `set_event` hook)."""
    ready = OutputReady()
    with chan.lock:
        chan.in_buffer.set_event(ready.stdout)
        chan.in_stderr_buffer.set_event(ready.stderr)
    return ready


def set_close_hook(chan: paramiko.Channel, hook: Callable[[], None]) -> None:
    """Call `hook` once the peer closed the channel; it runs on the transport thread, so it
    must not block (waking a relay thread is what it is for)."""
    chan.cps1_close_hook = hook


def _channel_close(chan: paramiko.Channel, m: Message) -> None:
    paramiko.Channel._handle_close(chan, m)
    hook: Callable[[], None] | None = getattr(chan, "cps1_close_hook", None)
    if hook is not None:
        hook()


def set_request_hook(chan: paramiko.Channel, hook: RequestHook) -> None:
    """Hand the channel's signal, break and exit-signal requests to `hook` (transport thread)."""
    chan.cps1_request_hook = hook


def _extra_arguments(kind: str, m: Message) -> tuple:
    if kind == "signal":
        return (m.get_text(),)
    if kind == "break":
        return (m.get_int(),)
    return (m.get_text(), m.get_boolean(), m.get_text())  # exit-signal


def _channel_request(chan: paramiko.Channel, m: Message) -> None:
    """MSG_CHANNEL_REQUEST: extra kinds go to the channel's hook, the rest to Paramiko."""
    hook: RequestHook | None = getattr(chan, "cps1_request_hook", None)
    if hook is not None:
        start = m.packet.tell()
        kind = m.get_text()
        want_reply = m.get_boolean()
        if kind in EXTRA_REQUESTS:
            ok = hook(kind, _extra_arguments(kind, m))
            if want_reply:
                reply = Message()
                reply.add_byte(cMSG_CHANNEL_SUCCESS if ok else cMSG_CHANNEL_FAILURE)
                reply.add_int(chan.remote_chanid)
                chan.transport._send_user_message(reply)
            return
        m.packet.seek(start)
    paramiko.Channel._handle_request(chan, m)


def _within_window(chan: paramiko.Channel, m: Message, header: int) -> bool:
    """Whether the data in `m` fits the window the peer was granted. Not yet granted back:
    what sits in the buffers plus what was read but not yet returned by a WINDOW_ADJUST."""
    start = m.packet.tell()
    m.packet.seek(start + header)
    size = m.get_int()
    m.packet.seek(start)
    held = len(chan.in_buffer) + len(chan.in_stderr_buffer) + chan.in_window_sofar
    return held + size <= window_limit(chan.in_window_size)


def _overrun(chan: paramiko.Channel) -> None:
    transport = chan.transport
    transport._log(paramiko.common.WARNING, f"channel {chan.get_id()}: peer ignored the channel window")
    transport.window_overrun = True
    transport.close()


def _channel_data(chan: paramiko.Channel, m: Message) -> None:
    if _within_window(chan, m, 0):
        paramiko.Channel._feed(chan, m)
    else:
        _overrun(chan)


def _channel_extended_data(chan: paramiko.Channel, m: Message) -> None:
    if _within_window(chan, m, 4):
        paramiko.Channel._feed_extended(chan, m)
    else:
        _overrun(chan)


class _ServerAuthHandler(AuthHandler):
    """Passes each final authentication answer, after the signature check, through the
    transport's `auth_result` hook, which may turn a success into a failure."""

    def _send_auth_result(self, username: str, method: str, result: int) -> None:
        hook = self.transport.auth_result
        if hook is not None:
            result = hook(method, result)
        super()._send_auth_result(username, method, result)


class GatewayTransport(paramiko.Transport):
    _channel_handler_table: ClassVar[dict] = {
        **paramiko.Transport._channel_handler_table,
        MSG_CHANNEL_REQUEST: _channel_request,
        MSG_CHANNEL_DATA: _channel_data,
        MSG_CHANNEL_EXTENDED_DATA: _channel_extended_data,
        MSG_CHANNEL_CLOSE: _channel_close,
    }

    # Paramiko's transport thread reads its socket with this timeout to notice a close and send
    # keepalives; at its 0.1 s, 1,000 idle sessions (2,000 transports) woke 20,000 times a second
    # for the GIL. A close from this process shuts the packetizer first (noticed at once); a
    # peer's close ends the read at once; only keepalives move to a one-second grain.
    _active_check_timeout = 1.0

    def __init__(self, sock: socket.socket, tuning: Tuning) -> None:
        super().__init__(sock, default_window_size=tuning.window_size, default_max_packet_size=tuning.max_packet_size)
        self._deferred: list[Message] = []
        self.clear_to_send = _FlushingEvent(self._flush_deferred)
        # Set by the server side: receives direct-tcpip opens to answer later, and hears of a
        # successful authentication (Paramiko's ServerInterface has no such callback).
        self.direct_tcpip_handler: Callable[[OpenRequest], None] | None = None
        # Set by the client side (towards a Workspace): receives agent channel opens.
        self.agent_handler: Callable[[OpenRequest], None] | None = None
        self.on_authenticated: Callable[[], None] | None = None
        # Set by the server side: receives each session channel the client opened (instead of
        # Paramiko's accept() queue, which needs a thread per connection waiting in accept).
        self.on_channel: Callable[[paramiko.Channel], None] | None = None
        # (method, Paramiko's result after the signature check) -> the result to send.
        self.auth_result: Callable[[str, int], int] | None = None
        # Set when a peer overran a channel window and was disconnected for it.
        self.window_overrun = False
        self.tuning = tuning
        if tuning.ciphers:
            self.get_security_options().ciphers = tuning.ciphers
        if tuning.rekey_bytes:
            self.packetizer.REKEY_BYTES = self.packetizer.REKEY_PACKETS = tuning.rekey_bytes
        if tuning.keepalive_seconds:
            self.set_keepalive(tuning.keepalive_seconds)

    # Rekey safety ------------------------------------------------------------------------

    def _send_message(self, data: Message) -> None:
        """Messages the transport thread produces itself (channel open confirmations, request
        replies, CLOSE answers, auth replies) wait while a key exchange is in progress: stock
        Paramiko sends some of them anyway (the peer then fails with MessageOrderError) and
        blocks on others (#822). Key exchange messages (below 50) always go out at once."""
        if (
            threading.current_thread() is self
            and not self.clear_to_send.is_set()
            and data.asbytes()[:1] >= bytes([FIRST_DEFERRABLE])
        ):
            self._deferred.append(data)
            return
        super()._send_message(data)

    def _send_user_message(self, data: Message) -> None:
        if threading.current_thread() is not self:
            super()._send_user_message(data)
            return
        with self.clear_to_send_lock:
            self._send_message(data)

    def _flush_deferred(self) -> None:
        pending, self._deferred = self._deferred, []
        for data in pending:
            paramiko.Transport._send_message(self, data)

    def _send_kex_init(self) -> None:
        # The client's version string is known by now (it precedes the first KEXINIT).
        if self.server_mode and self.tuning.ciphers and self.tuning.fallback_ciphers:
            offered = ciphers_for(self.remote_version, self.tuning.ciphers, self.tuning.fallback_ciphers)
            self.get_security_options().ciphers = offered
        super()._send_kex_init()

    def _parse_newkeys(self, m: Message) -> None:
        if self.server_mode and self.auth_handler is None:
            self.auth_handler = _ServerAuthHandler(self)
        super()._parse_newkeys(m)

    def grant_window(self, window: int) -> None:
        """The window for the session channel being opened: called from
        `ServerInterface.check_channel_request`, on this transport's thread, just before
        Paramiko sets up the channel with `default_window_size`, which _parse_channel_open
        restores afterwards."""
        self.default_window_size = window

    def send_banner(self, text: str) -> None:
        """Tell the client something before authentication ends (USERAUTH_BANNER, RFC 4252
        5.4; OpenSSH prints it on stderr). Nothing once authenticated: the message is not
        allowed then."""
        if self.authenticated:
            return
        m = Message()
        m.add_byte(cMSG_USERAUTH_BANNER)
        m.add_string(f"cps1: {text}\r\n")
        m.add_string("en")
        self._send_message(m)

    def _auth_trigger(self) -> None:
        super()._auth_trigger()
        if self.server_mode and self.on_authenticated is not None:
            self.on_authenticated()

    # Deferred opens (direct-tcpip, agent) ---------------------------------------------------------

    def _parse_channel_open(self, m: Message) -> None:
        start = m.packet.tell()
        kind = m.get_text()
        handler = self._deferred_open_handler(kind)
        if handler is not None:
            sender, window, max_packet = m.get_int(), m.get_int(), m.get_int()
            if kind == DIRECT_TCPIP:
                destination = (m.get_text(), m.get_int())
                origin = (m.get_text(), m.get_int())
                handler(OpenRequest(sender, window, max_packet, destination, origin))
            else:
                handler(OpenRequest(sender, window, max_packet, kind=kind))
            return
        m.packet.seek(start)
        # Paramiko grants every channel `default_window_size`; grant_window replaces it for
        # this one open (on the server side only this thread reads it).
        default = self.default_window_size
        try:
            super()._parse_channel_open(m)
        finally:
            self.default_window_size = default

    def _queue_incoming_channel(self, channel: paramiko.Channel) -> None:
        if self.on_channel is None:
            super()._queue_incoming_channel(channel)
        else:
            self.on_channel(channel)

    def _deferred_open_handler(self, kind: str) -> Callable[[OpenRequest], None] | None:
        """Who answers this open later: direct-tcpip from a client, agent channels from a
        Workspace; anything else is Paramiko's (and its ServerInterface's)."""
        if self.server_mode and kind == DIRECT_TCPIP:
            return self.direct_tcpip_handler
        if not self.server_mode and kind == AGENT_CHANNEL:
            return self.agent_handler
        return None

    def accept_open(self, request: OpenRequest, window: int = 0) -> paramiko.Channel:
        """Confirm a deferred open with `window` (default: the transport's); the caller must
        keep the returned Channel referenced."""
        window = window or self.default_window_size
        with self.lock:
            chanid = self._next_channel()
            chan = paramiko.Channel(chanid)
            self._channels.put(chanid, chan)
            self.channels_seen[chanid] = True
            chan._set_transport(self)
            chan._set_window(window, self.default_max_packet_size)
            chan._set_remote_channel(request.sender, request.window, request.max_packet)
        m = Message()
        m.add_byte(cMSG_CHANNEL_OPEN_SUCCESS)
        m.add_int(request.sender)
        m.add_int(chanid)
        m.add_int(window)
        m.add_int(self.default_max_packet_size)
        self._send_user_message(m)
        return chan

    def reject_open(self, request: OpenRequest, reason: int, text: str) -> None:
        """Refuse a deferred open; OpenSSH prints `open failed: <reason>: <text>`."""
        m = Message()
        m.add_byte(cMSG_CHANNEL_OPEN_FAILURE)
        m.add_int(request.sender)
        m.add_int(reason)
        m.add_string(text)
        m.add_string("en")
        self._send_user_message(m)


def tuned_socket(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


# Raw channel requests ----------------------------------------------------------------------


def _request(chan: paramiko.Channel, kind: str, want_reply: bool) -> Message:
    m = Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string(kind)
    m.add_boolean(want_reply)
    return m


def _send(chan: paramiko.Channel, m: Message, want_reply: bool) -> None:
    """Send a request; with want_reply, wait for the answer (SSHException when refused:
    Paramiko closes a channel whose request failed)."""
    if want_reply:
        chan._event_pending()
    chan.transport._send_user_message(m)
    if want_reply:
        chan._wait_for_event()


def request_pty(
    chan: paramiko.Channel, term: str, *, width: int, height: int, pixel_width: int, pixel_height: int, modes: bytes
) -> None:
    """pty-req with the client's terminal modes (Paramiko's get_pty drops them: no erase
    character, no IUTF8)."""
    m = _request(chan, "pty-req", True)
    m.add_string(term)
    for value in (width, height, pixel_width, pixel_height):
        m.add_int(value)
    m.add_string(modes)
    _send(chan, m, True)


def send_window_change(chan: paramiko.Channel, width: int, height: int, pixel_width: int, pixel_height: int) -> None:
    m = _request(chan, "window-change", False)
    for value in (width, height, pixel_width, pixel_height):
        m.add_int(value)
    _send(chan, m, False)


def request_agent(chan: paramiko.Channel) -> None:
    """auth-agent-req@openssh.com without waiting, as OpenSSH sends it: Paramiko's
    `request_forward_agent` would install its own handler for the channels that follow."""
    _send(chan, _request(chan, AGENT_REQUEST, False), False)


def send_env(chan: paramiko.Channel, name: bytes, value: bytes) -> None:
    """env without waiting: sshd's AcceptEnv decides, and OpenSSH clients don't wait either."""
    m = _request(chan, "env", False)
    m.add_string(name)
    m.add_string(value)
    _send(chan, m, False)


def send_signal(chan: paramiko.Channel, name: str) -> None:
    m = _request(chan, "signal", False)
    m.add_string(name)
    _send(chan, m, False)


def send_break(chan: paramiko.Channel, milliseconds: int) -> None:
    m = _request(chan, "break", False)
    m.add_int(milliseconds)
    _send(chan, m, False)


def send_exit_signal(chan: paramiko.Channel, name: str, core_dumped: bool, message: str) -> None:
    m = _request(chan, "exit-signal", False)
    m.add_string(name)
    m.add_boolean(core_dumped)
    m.add_string(message)
    m.add_string("")
    _send(chan, m, False)
