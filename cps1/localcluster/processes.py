"""Starting, probing and stopping local server processes by PID, with their logs on disk."""

import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubeclient.wait import poll

LOOPBACK = "127.0.0.1"


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, chosen below the kernel's ephemeral range: a
    port the kernel picked could be taken by any outgoing connection (the API server's to etcd,
    say) between this check and the server's own bind, which once kept Metacontroller from
    starting. Below the range only our own listeners compete."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {LOOPBACK} below {low}")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether GET url answers 200. TLS is not verified: these are our own self-signed servers
    on loopback, probed only for liveness."""
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class StartupError(RuntimeError):
    """A component did not become ready; the message names it and shows its log's tail."""


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
            )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds, and reap the process."""
        if self.popen is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)
        self.popen = None

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the whole process group (SIGKILL a crash, SIGSTOP/SIGCONT a pause)."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def wait_ready(self, timeout: float) -> None:
        for _ in poll(timeout, 0.2):
            if self.popen and self.popen.poll() is not None:
                raise StartupError(
                    f"{self.name} exited with code {self.popen.returncode} while starting; "
                    f"last lines of {self.log}:\n{tail(self.log)}"
                )
            if self.ready is None or self.ready():
                return
        raise StartupError(
            f"{self.name} was not ready after {timeout:.0f}s; last lines of {self.log}:\n{tail(self.log)}"
        )


def stop_pid(pid: int, grace: float = 10.0) -> None:
    """Stop a process group started by another process (`cps1 dev down`): SIGTERM, then
    SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        for _ in poll(wait, 0.1):
            if not alive(pid):
                return


def alive(pid: int) -> bool:
    """Whether `pid` still runs: an exited process that is not reaped yet (a zombie) does not.
    Killed orphans are reaped by PID 1, which on some machines takes its time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
