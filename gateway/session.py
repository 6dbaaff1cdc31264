"""One client session channel, from its first request to the relay.

Requests before the start request (pty-req, env, window-change, auth-agent-req) are answered
at once and remembered. The start request (shell, exec, subsystem) is also answered at once, as Gitpod's
gateway does, and a worker then brings the Workspace up (writing progress to the session's
stderr), opens the upstream session, replays the remembered requests with the client's
terminal modes, sends the start request and starts the pumps. Answering at once keeps the
transport thread free: it must never wait for a Workspace to start. If the Workspace refuses,
the client reads why on stderr and gets exit status 255, as for any ssh failure.
"""

import contextlib
import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import paramiko

from gateway import transport
from gateway.forwarding import SessionPair
from gateway.lifecycle import StartFailed
from gateway.routing import AGENT_FORWARDING_DISABLED, agent_refusal
from gateway.upstream import UpstreamError

if TYPE_CHECKING:
    from gateway.connection import Connection

log = logging.getLogger("cps1.gateway.session")
FAILED_EXIT = 255


@dataclass(frozen=True)
class Pty:
    term: str
    width: int
    height: int
    pixel_width: int
    pixel_height: int
    modes: bytes


class Session:
    def __init__(self, conn: "Connection", down: paramiko.Channel) -> None:
        self.conn = conn
        self.down = down
        self.env: list[tuple[bytes, bytes]] = []
        self.pty: Pty | None = None
        # ssh -A: relayed (the Workspace's sshd is asked too), or refused by the admin's switch.
        self.agent = False
        self.agent_refused = False
        self.kind = ""
        self.argument: bytes | str = b""
        self.up: paramiko.Channel | None = None
        self.pair: SessionPair | None = None
        self._pending_size: tuple[int, int, int, int] | None = None
        self._lock = threading.Lock()
        transport.set_request_hook(down, self._client_request)

    # Requests from the client (on the transport thread: answer, never block) ---------------

    def on_pty(self, pty: Pty) -> bool:
        if self.kind or self.pty:
            return False
        self.pty = pty
        return True

    def on_env(self, name: bytes, value: bytes) -> bool:
        if self.kind or len(self.env) >= 64:
            return False
        self.env.append((name, value))
        return True

    def on_window_change(self, width: int, height: int, pixel_width: int, pixel_height: int) -> bool:
        with self._lock:
            up = self.up
            if up is None:
                self._pending_size = (width, height, pixel_width, pixel_height)
                return True
        with contextlib.suppress(OSError, paramiko.SSHException):
            transport.send_window_change(up, width, height, pixel_width, pixel_height)
        return True

    def on_agent(self) -> bool:
        """auth-agent-req@openssh.com: remembered, and asked of the Workspace's sshd before the
        start request; the connection then relays the agent channels that sshd opens."""
        reason = agent_refusal(self.conn.settings.agent_forwarding, bool(self.kind), self.agent)
        if reason:
            self.agent_refused = reason == AGENT_FORWARDING_DISABLED
            log.info("agent forwarding refused", extra={**self.conn.log_context, "reason": reason})
            self.conn.agent_requested(False)
            return False
        self.agent = True
        self.conn.agent_requested(True)
        return True

    def on_start(self, kind: str, argument: bytes | str) -> bool:
        """shell, exec or subsystem: accepted once per channel, then set up in the background."""
        if self.kind:
            return False
        self.kind, self.argument = kind, argument
        threading.Thread(target=self._setup, name=f"session-{kind}", daemon=True).start()
        return True

    def _client_request(self, kind: str, args: tuple) -> bool:
        """signal and break from the client, passed on once the session runs."""
        up = self.up
        if up is None:
            return False
        try:
            if kind == "signal":
                transport.send_signal(up, args[0])
            elif kind == "break":
                transport.send_break(up, args[0])
            else:
                return False
        except (OSError, paramiko.SSHException):
            return False
        return True

    # Setup (worker thread) -----------------------------------------------------------------

    @property
    def label(self) -> str:
        if self.kind != "subsystem":
            return self.kind
        name = self.argument if isinstance(self.argument, str) else self.argument.decode(errors="replace")
        return f"subsystem:{name}"

    def say(self, text: str) -> None:
        """A line of gateway text on the session's stderr (CRLF when a terminal is attached)."""
        ending = "\r\n" if self.pty else "\n"
        with contextlib.suppress(OSError, paramiko.SSHException):
            self.down.sendall_stderr(f"cps1: {text}{ending}".encode())

    def _fail(self, text: str) -> None:
        log.info("session refused", extra={**self.conn.log_context, "kind": self.label, "reason": text})
        self.say(text)
        with contextlib.suppress(OSError, paramiko.SSHException):
            self.down.send_exit_status(FAILED_EXIT)
            self.down.shutdown_write()
        with contextlib.suppress(OSError, paramiko.SSHException):
            self.down.close()

    def _setup(self) -> None:
        try:
            self.conn.ensure_running(interactive=True, progress=self.say, cancelled=lambda: self.down.closed)
            up = self.conn.upstream().open_session(
                window_size=self.conn.upstream_window(self.down.get_id()),
                max_packet_size=self.conn.tuning.max_packet_size,
                timeout=30,
            )
        except (StartFailed, UpstreamError) as err:
            self._fail(str(err))
            return
        except (OSError, EOFError, paramiko.SSHException) as err:
            self._fail(f"could not open a session in the workspace: {err}")
            return
        pair = SessionPair(self.down, up, self.conn.count_up, self.conn.count_down)
        transport.set_request_hook(up, lambda kind, args: self._workspace_request(pair, kind, args))
        try:
            self._replay(up)
            self._start(up)
        except (OSError, EOFError, paramiko.SSHException) as err:
            with contextlib.suppress(OSError, paramiko.SSHException):
                up.close()
            self._fail(f"the workspace refused the {self.label} request ({err or 'refused'})")
            return
        self.pair = pair
        self.conn.track(pair, self.label)
        pair.start()

    def _replay(self, up: paramiko.Channel) -> None:
        if self.agent:
            transport.request_agent(up)
        elif self.agent_refused:
            self.say(AGENT_FORWARDING_DISABLED)
        for name, value in self.env:
            transport.send_env(up, name, value)
        with self._lock:
            pty = self.pty
            if pty and self._pending_size:
                width, height, pw, ph = self._pending_size
                pty = replace(pty, width=width, height=height, pixel_width=pw, pixel_height=ph)
                self._pending_size = None
        if pty:
            transport.request_pty(
                up,
                pty.term,
                width=pty.width,
                height=pty.height,
                pixel_width=pty.pixel_width,
                pixel_height=pty.pixel_height,
                modes=pty.modes,
            )
        with self._lock:
            self.up = up
            pending, self._pending_size = self._pending_size, None
        if pending:
            transport.send_window_change(up, *pending)

    def _start(self, up: paramiko.Channel) -> None:
        if self.kind == "shell":
            up.invoke_shell()
        elif self.kind == "exec":
            up.exec_command(self.argument)
        else:
            up.invoke_subsystem(str(self.argument))

    @staticmethod
    def _workspace_request(pair: SessionPair, kind: str, args: tuple) -> bool:
        """exit-signal from the Workspace, kept for the end of the session."""
        if kind != "exit-signal":
            return False
        pair.exit_signal = (str(args[0]), bool(args[1]), str(args[2]))
        return True
