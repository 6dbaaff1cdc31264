"""The tests' own network guard: what it allows, and that Python subprocesses load it. No
connection is attempted to any address: `check` refuses before a socket would dial."""

import os
import socket
import subprocess
import sys

import pytest

from tests.netguard import sitecustomize as netguard


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("10.96.0.10", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("example.com", False),
    ],
)
def test_allowed_addresses(host: str, allowed: bool) -> None:
    assert netguard.is_allowed(host) is allowed


def test_a_refused_connection_is_recorded(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "violations.log"
    monkeypatch.setenv(netguard.VIOLATIONS_ENV, str(log))
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        netguard.check(sock, ("192.0.2.1", 22))
    assert "192.0.2.1:22" in log.read_text()


def test_python_subprocesses_load_the_guard() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import socket; print(getattr(socket.socket, '_cps1_guarded', False))"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert out.stdout.strip() == "True"
