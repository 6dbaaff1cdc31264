"""Moving bytes between a client channel and its Workspace channel, with flow control.

Flow control is end to end: a pump reads from one Paramiko channel only as fast as the other
channel accepts (`sendall` blocks while the peer's window is closed), and Paramiko returns
window space to a sender only as its buffer is read. So per direction a channel holds at most
its window (2 MiB) plus one chunk in flight: bounded memory, and no stall while both ends read.

Order at the end of a session matters (lost output and lost exit codes are the classic relay
bugs): stdout and stderr are drained first, then exit-status or exit-signal, then EOF, then
close. A client's half-close (EOF on stdin) is passed on as EOF; a client's close closes the
Workspace side too, so its processes get their hangup.
"""

import contextlib
import logging
import threading
from collections.abc import Callable

import paramiko

from gateway import transport

log = logging.getLogger("cps1.gateway.forwarding")
CHUNK = 256 * 1024
Count = Callable[[int], None]


def pump(recv: Callable[[int], bytes], send: Callable[[bytes], None], count: Count) -> None:
    """Copy until EOF; an error on either side just ends the copy (the caller closes)."""
    try:
        while True:
            data = recv(CHUNK)
            if not data:
                return
            send(data)
            count(len(data))
    except (OSError, EOFError, paramiko.SSHException):
        return


def pump_output(up: paramiko.Channel, down: paramiko.Channel, ready: transport.OutputReady, count: Count) -> None:
    """Copy a session's stdout and stderr until EOF in one thread (one pump each would cost a
    thread per idle session). Whether EOF came is read before the buffers are: data always
    arrives before its EOF, so nothing buffered is left behind."""
    try:
        while True:
            finished = up.eof_received or up.closed
            moved = False
            for ready_now, recv, send in (
                (up.recv_stderr_ready, up.recv_stderr, down.sendall_stderr),
                (up.recv_ready, up.recv, down.sendall),
            ):
                if ready_now():
                    data = recv(CHUNK)
                    send(data)
                    count(len(data))
                    moved = True
            if moved:
                continue
            if finished or down.closed:
                return
            ready.wait()
    except (OSError, EOFError, paramiko.SSHException):
        return


def _quiet(action: Callable[[], object]) -> None:
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        action()


class Pair:
    """A client channel (`down`) and its Workspace channel (`up`), closed together once."""

    def __init__(self, down: paramiko.Channel, up: paramiko.Channel, count_up: Count, count_down: Count) -> None:
        self.down = down
        self.up = up
        self.count_up = count_up
        self.count_down = count_down
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._on_close: list[Callable[[], None]] = []

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _quiet(self.down.close)
        _quiet(self.up.close)
        for callback in self._on_close:
            try:
                callback()
            except Exception:
                log.exception("close callback failed")
        self.done.set()

    def _thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread


class SessionPair(Pair):
    """A shell, exec or subsystem session: stdin up; stdout, stderr and the exit down."""

    def __init__(self, down: paramiko.Channel, up: paramiko.Channel, count_up: Count, count_down: Count) -> None:
        super().__init__(down, up, count_up, count_down)
        # exit-signal from the Workspace: (name, core dumped, message), set by the request hook.
        self.exit_signal: tuple[str, bool, str] | None = None
        self.lost_message = b""

    def start(self) -> None:
        self._ready = transport.watch_output(self.up)
        self.on_close(self._ready.wake)
        transport.set_close_hook(self.down, self._ready.wake)
        self._thread(self._stdin, "stdin")
        self._thread(self._output, "output")

    def _stdin(self) -> None:
        """Stdin until the client's EOF, passed on; the thread then ends (a client that closes
        the channel later wakes the output thread through the close hook)."""
        pump(self.down.recv, self.up.sendall, self.count_up)
        if self.down.closed:
            self.close()
            return
        _quiet(self.up.shutdown_write)

    def _output(self) -> None:
        pump_output(self.up, self.down, self._ready, self.count_down)
        if self.down.closed:
            self.close()
            return
        # exit-status arrives after EOF; closing the pair (a client close) sets this event too.
        self.up.status_event.wait()
        self._send_exit()
        _quiet(self.down.shutdown_write)
        self.close()

    def abort(self, reason: str) -> None:
        """End the session from the gateway's side, telling the client why."""
        _quiet(lambda: self.down.sendall_stderr(f"\r\ncps1: {reason}\r\n".encode()))
        _quiet(lambda: self.down.send_exit_status(255))
        self.close()

    def _send_exit(self) -> None:
        if self.down.closed:
            return
        if self.exit_signal is not None:
            name, core, message = self.exit_signal
            _quiet(lambda: transport.send_exit_signal(self.down, name, core, message))
        elif self.up.exit_status != -1:
            _quiet(lambda: self.down.send_exit_status(self.up.exit_status))
        elif self.lost_message or not self.up.get_transport().is_active():
            text = self.lost_message or b"cps1: the connection to the workspace was lost\r\n"
            _quiet(lambda: self.down.sendall_stderr(text))
            _quiet(lambda: self.down.send_exit_status(255))


class TcpPair(Pair):
    """A direct-tcpip channel: bytes both ways, half-closes passed on, one close for both."""

    def __init__(self, down: paramiko.Channel, up: paramiko.Channel, count_up: Count, count_down: Count) -> None:
        super().__init__(down, up, count_up, count_down)
        self._finished = 0

    def start(self) -> None:
        self._thread(lambda: self._direction(self.down, self.up, self.count_up), "tcp-up")
        self._thread(lambda: self._direction(self.up, self.down, self.count_down), "tcp-down")

    def _direction(self, src: paramiko.Channel, dst: paramiko.Channel, count: Count) -> None:
        pump(src.recv, dst.sendall, count)
        if src.closed:
            self.close()
            return
        _quiet(dst.shutdown_write)
        with self._lock:
            self._finished += 1
            both = self._finished == 2
        if both:
            self.close()
