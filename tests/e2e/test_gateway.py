"""The SSH gateway end to end: the real OpenSSH client (ssh, scp, sftp) against the gateway,
relaying to a real sshd on 127.0.0.1 per Workspace, with Workspaces run by the hooks under the
real Metacontroller on the local control plane.

The gateway runs in the test process, so the loopback guard (tests/e2e/conftest.py) also covers
every connection it opens; test_gateway_process.py runs it as `python -m gateway`.
"""

import base64
import fcntl
import hashlib
import http.server
import json
import os
import re
import select
import socket
import struct
import subprocess
import termios
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from common import crd
from gateway import keys as gateway_keys
from gateway import server
from gateway.settings import Settings
from tests.constants import GATEWAY_PRIVATE_KEY
from tests.support import gateway as gs
from tests.support import workspaces as ws
from tests.support.cluster import Env, wait_until

NS = "cps1-gw-e2e"
TEMPLATE = "gw-python"
MAIN = "gw-main"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, gs.ClientKey]:
    directory = tmp_path_factory.mktemp("client-keys")
    return {name: gs.client_key(directory, name) for name in ("alice", "bob", "stranger", "extra", "carol")}


def settings_for(env: Env, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "health_listen": "127.0.0.1:0",
        "kubeconfig": str(env.cluster.kubeconfig),
        "system_namespace": NS,
        "host_key_secret": "gw-e2e-host-key",
        "upstream_user": gs.USER,
        "upstream_connect_timeout_seconds": 10.0,
        "start_timeout_seconds": 90.0,
        "activity_interval_seconds": 1.0,
        "restart_grace_seconds": 120.0,
        "drain_seconds": 1.0,
        # The session's cluster is shared: alice owns the Workspaces of many tests, so no
        # default limit of running ones here; the limit is tested with a user's own (dave).
        "max_running_per_user": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def gw(env: Env, keys: dict[str, gs.ClientKey], tmp_path_factory: pytest.TempPathFactory) -> Iterator[gs.Harness]:
    gs.namespace(env, NS)
    gs.user_configmap(env, NS, "alice", [keys["alice"].public])
    gs.user_configmap(env, NS, "bob", [keys["bob"].public])
    ws.template(env, TEMPLATE)
    created = [MAIN]
    ws.workspace(env, MAIN, TEMPLATE, sshAuthorizedKeys=[keys["extra"].public])
    ws.wait_phase(env, MAIN, crd.PHASE_RUNNING)
    harness = gs.Harness(
        env,
        tmp_path_factory.mktemp("gateway"),
        settings_for(env),
        gateway_keys.load_private_key(GATEWAY_PRIVATE_KEY),
    )
    harness.created = created
    harness.serve(MAIN, extra_keys=[keys["alice"].public])
    harness.start()
    yield harness
    harness.stop()
    for name in created:
        ws.delete(env, name)
    for name in created:
        ws.wait_gone(env, name)


def new_workspace(env: Env, gw: gs.Harness, name: str, phase: str = crd.PHASE_RUNNING, **spec: Any) -> gs.Sshd:
    gw.created.append(name)
    ws.workspace(env, name, TEMPLATE, **spec)
    ws.wait_phase(env, name, phase)
    wait_until(lambda: ws.child(env, name, "v1", "Secret", "workspace"), what=f"the Secret of {name}")
    return gw.serve(name)


def text(result: subprocess.CompletedProcess) -> str:
    return f"rc={result.returncode}\nstdout={result.stdout!r}\nstderr={result.stderr!r}"


# Exec, stdin, exit codes ---------------------------------------------------------------------


def test_exec_relays_stdout_stderr_and_exit_status(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    result = gw.ssh(keys["alice"], MAIN, "echo out; echo err >&2; exit 3")
    assert result.returncode == 3, text(result)
    assert result.stdout == b"out\n"
    assert b"err\n" in result.stderr
    ok = gw.ssh(keys["alice"], MAIN, "true")
    assert ok.returncode == 0, text(ok)


def test_exec_output_is_never_lost(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    """The classic relay race (output or exit status lost when the command ends at once)."""
    for i in range(10):
        result = gw.ssh(keys["alice"], MAIN, f"echo run{i}")
        assert (result.returncode, result.stdout) == (0, f"run{i}\n".encode()), text(result)


def test_stdin_is_relayed_and_half_closed(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    result = gw.ssh(keys["alice"], MAIN, "sha256sum", stdin=None, input=payload)
    assert result.returncode == 0, text(result)
    assert result.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest()


def test_user_plus_workspace_login(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    result = gw.ssh(keys["alice"], f"alice+{MAIN}", "echo hello")
    assert (result.returncode, result.stdout) == (0, b"hello\n"), text(result)


def test_workspace_extra_key_is_accepted(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    result = gw.ssh(keys["extra"], MAIN, "echo via-spec-key")
    assert (result.returncode, result.stdout) == (0, b"via-spec-key\n"), text(result)


def test_env_requests_reach_the_workspace(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    # LC_* is what the image's sshd accepts (images/workspace/sshd_config.in).
    result = gw.ssh(keys["alice"], MAIN, "echo $LC_CPS1_E2E", options=("-o", "SetEnv=LC_CPS1_E2E=hello-env"))
    assert result.stdout == b"hello-env\n", text(result)


def test_exit_signal_is_relayed(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    """A command killed by a signal: the client gets exit-signal, as without the gateway."""
    sshd = gw.sshds[MAIN]
    host_key = gs.workspace_secret(gw.env, MAIN)["ssh_host_ed25519_key.pub"].strip()
    known = gs.known_hosts(gw.dir / "known_direct", sshd.port, host_key)
    direct = subprocess.run(
        [*gs.ssh_base(keys["alice"].path, known, "-v"), "-p", str(sshd.port), f"{gs.USER}@127.0.0.1", "kill -TERM $$"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    relayed = gw.ssh(keys["alice"], MAIN, "kill -TERM $$", options=("-v",))
    assert b"rtype exit-signal" in direct.stderr, text(direct)
    assert b"rtype exit-signal" in relayed.stderr, text(relayed)
    assert relayed.returncode == direct.returncode == 255


def test_openssh_clients_negotiate_aes_gcm(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    """The tuned cipher (a third less gateway CPU per byte than OpenSSH's own first pick)."""
    result = gw.ssh(keys["alice"], MAIN, "true", options=("-v",))
    assert result.returncode == 0, text(result)
    assert b"cipher: aes128-gcm@openssh.com" in result.stderr, text(result)


def test_keepalives_are_answered(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    result = gw.ssh(
        keys["alice"],
        MAIN,
        "sleep 3; echo alive",
        options=("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"),
    )
    assert (result.returncode, result.stdout) == (0, b"alive\n"), text(result)


# Interactive shell with a PTY ----------------------------------------------------------------


class Terminal:
    """The OpenSSH client on a real pseudo-terminal, as a developer's terminal runs it.

    `setsid --ctty` makes the pty the client's controlling terminal, so resizing it sends the client
    SIGWINCH and the client sends window-change, as when a terminal window is resized."""

    def __init__(self, argv: list[str], rows: int, cols: int) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols)
        self.proc = subprocess.Popen(["setsid", "--wait", "--ctty", *argv], stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.output = b""

    def resize(self, rows: int, cols: int) -> None:
        size = struct.pack("HHHH", rows, cols, 0, 0)
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def expect(self, pattern: bytes, timeout: float = 30) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                self.output = self.output[found.end() :]
                return found
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        raise AssertionError(f"no {pattern!r} on the terminal within {timeout}s; got {self.output[-2000:]!r}")

    def close(self) -> int:
        try:
            return self.proc.wait(30)
        finally:
            os.close(self.master)


def test_shell_with_pty_and_window_changes(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    term = Terminal(gw.ssh_command(keys["alice"], MAIN, options=("-tt",)), rows=24, cols=80)
    try:
        term.send("stty size | sed 's/^/SIZE=/'; tty | sed 's/^/TTY=/'")
        assert term.expect(rb"SIZE=(\d+) (\d+)").groups() == (b"24", b"80")
        assert term.expect(rb"TTY=(/dev/pts/\d+)")
        term.resize(40, 132)
        # The window change travels on its own message, beside the typed command: ask until the
        # new size has arrived (or expect() times out).
        for attempt in range(100):
            term.send(f"stty size | sed 's/^/SIZE{attempt}=/'")
            if term.expect(rb"SIZE%d=(\d+) (\d+)" % attempt).groups() == (b"40", b"132"):
                break
        else:
            raise AssertionError("the window change never reached the Workspace's terminal")
        # Terminal modes travel with the pty request: the erase character is the client's.
        term.send("stty -a | grep -o 'erase = [^;]*' | sed 's/^/MODE=/'")
        assert term.expect(rb"MODE=erase = (\S+)").group(1) in (b"^?", b"^H")
        term.send("exit 7")
        assert term.close() == 7
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait()


# Files: sftp and scp -------------------------------------------------------------------------


def test_sftp_upload_and_download_of_a_large_file(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(64 * 1024 * 1024))
    back = tmp_path / "back.bin"
    remote = f"/tmp/cps1-gw-e2e-{os.getpid()}.bin"
    batch = tmp_path / "batch"
    batch.write_text(f"put {source} {remote}\nget {remote} {back}\nrm {remote}\n")
    argv = [
        *gs.openssh("sftp", keys["alice"].path, gw.known),
        "-P",
        str(gw.port),
        "-b",
        str(batch),
        f"{MAIN}@127.0.0.1",
    ]
    result = subprocess.run(argv, capture_output=True, timeout=300)
    assert result.returncode == 0, text(result)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("protocol", ["sftp", "scp"])
def test_scp_round_trip(gw: gs.Harness, keys: dict[str, gs.ClientKey], tmp_path: Path, protocol: str) -> None:
    """scp over its default sftp protocol and over the legacy scp protocol (-O, an exec)."""
    source = tmp_path / "file.bin"
    source.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    remote = f"/tmp/cps1-gw-scp-{protocol}-{os.getpid()}.bin"
    base = [
        *gs.openssh("scp", keys["alice"].path, gw.known),
        "-P",
        str(gw.port),
        *(["-O"] if protocol == "scp" else []),
    ]
    up = subprocess.run([*base, str(source), f"{MAIN}@127.0.0.1:{remote}"], capture_output=True, timeout=120)
    assert up.returncode == 0, text(up)
    down = subprocess.run(
        [*base, f"{MAIN}@127.0.0.1:{remote}", str(tmp_path / "copy.bin")], capture_output=True, timeout=120
    )
    assert down.returncode == 0, text(down)
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    gw.ssh(keys["alice"], MAIN, f"rm -f {remote}")


# Port forwarding: -L, -W, ProxyJump ----------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[tuple[int, bytes]]:
    """A loopback HTTP server standing in for a dev server running in the Workspace."""
    body = b"hello from the workspace's dev server\n" * 100

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], body
    server.shutdown()
    server.server_close()


def test_local_port_forward_to_a_loopback_http_server(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], http_server: tuple[int, bytes], tmp_path: Path
) -> None:
    http_port, body = http_server
    local = gs.free_port()
    forward = ("-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:127.0.0.1:{http_port}")
    with open(tmp_path / "ssh.log", "wb") as log:
        proc = subprocess.Popen(
            gw.ssh_command(keys["alice"], MAIN, options=forward),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        gs.wait_port(local)
        for _ in range(5):  # several forwarded connections over one SSH connection
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=20) as response:
                assert response.read() == body
    finally:
        proc.terminate()
        proc.wait(20)


def socks5_get(proxy_port: int, target_port: int) -> bytes:
    """HTTP GET through a SOCKS5 proxy (RFC 1928, no authentication), by hand."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=20) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + target_port.to_bytes(2, "big"))
        reply = sock.recv(10)
        assert reply[:2] == b"\x05\x00", reply
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_dynamic_forward_as_vs_code_uses_it(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], http_server: tuple[int, bytes], tmp_path: Path
) -> None:
    """VS Code Remote-SSH runs `ssh -D <port>` and reaches its server through SOCKS: one
    direct-tcpip channel per connection, many of them over one SSH connection."""
    http_port, body = http_server
    local = gs.free_port()
    with open(tmp_path / "ssh.log", "wb") as log:
        proc = subprocess.Popen(
            gw.ssh_command(keys["alice"], MAIN, options=("-N", "-D", f"127.0.0.1:{local}")),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        gs.wait_port(local)
        results: list[bytes] = []
        threads = [threading.Thread(target=lambda: results.append(socks5_get(local, http_port))) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 10 and all(r.startswith(b"HTTP/1.0 200") and r.endswith(body) for r in results)
    finally:
        proc.terminate()
        proc.wait(20)


def test_stdio_forward_w(gw: gs.Harness, keys: dict[str, gs.ClientKey], http_server: tuple[int, bytes]) -> None:
    http_port, body = http_server
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    result = gw.ssh(keys["alice"], MAIN, options=("-W", f"127.0.0.1:{http_port}"), stdin=None, input=request)
    assert result.returncode == 0, text(result)
    assert result.stdout.startswith(b"HTTP/1.0 200") and result.stdout.endswith(body)


def test_proxyjump_through_the_gateway(gw: gs.Harness, keys: dict[str, gs.ClientKey], tmp_path: Path) -> None:
    """`ssh -J workspace@gateway inner`: the gateway relays the jump (direct-tcpip) into the
    Workspace, whose sshd connects to `inner` (here: its own sshd, which trusts alice's key)."""
    sshd = gw.sshds[MAIN]
    inner_known = gs.known_hosts(
        tmp_path / "inner_known", sshd.port, gs.workspace_secret(gw.env, MAIN)["ssh_host_ed25519_key.pub"].strip()
    )
    config = tmp_path / "ssh_config"
    config.write_text(
        f"""Host gateway
  HostName 127.0.0.1
  Port {gw.port}
  User {MAIN}
  IdentityFile {keys["alice"].path}
  IdentitiesOnly yes
  UserKnownHostsFile {gw.known}
  StrictHostKeyChecking yes
  BatchMode yes
Host inner
  HostName 127.0.0.1
  Port {sshd.port}
  User {gs.USER}
  ProxyJump gateway
  IdentityFile {keys["alice"].path}
  IdentitiesOnly yes
  UserKnownHostsFile {inner_known}
  StrictHostKeyChecking yes
  BatchMode yes
"""
    )
    result = subprocess.run(
        ["ssh", "-F", str(config), "inner", "echo jumped"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, b"jumped\n"), text(result)


def test_forward_to_a_closed_port_reports_why(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    closed = gs.free_port()
    result = gw.ssh(keys["alice"], MAIN, options=("-W", f"127.0.0.1:{closed}"))
    assert result.returncode != 0
    assert b"open failed" in result.stderr and b"could not connect" in result.stderr, text(result)


# Denials and clear messages ------------------------------------------------------------------


def banner_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The gateway's lines on the client's stderr, with the key fingerprint masked."""
    lines = [line for line in result.stderr.decode().splitlines() if line.startswith("cps1: ")]
    return [re.sub(r"SHA256:\S+", "<key>", line) for line in lines]


def test_denials_before_a_key_is_proven_say_the_same_whatever_the_cause(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], caplog: pytest.LogCaptureFixture
) -> None:
    """Someone else's Workspace, a key nobody registered, naming oneself into it, and a
    Workspace that does not exist all read alike: logins do not enumerate Workspaces or owners.
    The audit log has the precise reason."""
    cases = {
        "key-not-allowed": (keys["bob"], MAIN),
        "unknown-workspace": (keys["alice"], "no-such-workspace"),
        "no-access": (keys["bob"], f"bob+{MAIN}"),
    }
    seen = {}
    with caplog.at_level("INFO", logger="cps1.gateway.audit"):
        for code, (key, login) in cases.items():
            result = gw.ssh(key, login, "true")
            assert result.returncode == 255 and b"Permission denied (publickey)" in result.stderr, text(result)
            seen[code] = [line.replace(login, "<login>") for line in banner_lines(result)]
        # Only these connections' lines: another test's connection to the same Workspace may
        # end in this window (an earlier test's session closing, with no denials).
        logins = {login for _, login in cases.values()}

        def ours() -> list[dict[str, Any]]:
            return [
                vars(r)
                for r in caplog.records
                if r.name == "cps1.gateway.audit" and vars(r)["login"] in logins and vars(r).get("denials")
            ]

        wait_until(lambda: len(ours()) >= 3, 10, what="audit")
    assert seen["key-not-allowed"] == [
        "cps1: permission denied: the key <key> may not open '<login>' "
        "(no such workspace, or the key is not registered for it)"
    ]
    assert seen["unknown-workspace"] == seen["key-not-allowed"] == seen["no-access"]
    assert sorted(r["denials"][0] for r in ours()) == sorted(cases)

    bad = gw.ssh(keys["alice"], "Not_A_Name", "true")
    assert bad.returncode == 255 and b"invalid login" in bad.stderr, text(bad)  # syntax reveals nothing


def test_only_public_keys_are_offered(gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    result = gw.ssh(
        keys["alice"],
        MAIN,
        "true",
        options=("-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no"),
    )
    assert result.returncode == 255
    assert b"Permission denied (publickey)" in result.stderr, text(result)


def test_failed_workspace_gets_a_readable_message(env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    gw.created.append("gw-failed")
    ws.workspace(env, "gw-failed", "gw-no-such-template")
    ws.wait_phase(env, "gw-failed", crd.PHASE_FAILED)
    result = gw.ssh(keys["alice"], "gw-failed", "true")
    assert result.returncode == 255
    assert b"workspace 'gw-failed' has failed" in result.stderr, text(result)
    assert b"gw-no-such-template" in result.stderr, text(result)


def test_upstream_host_key_is_pinned(env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    """An sshd that is not the Workspace's (another host key) is refused, not trusted."""
    sshd = new_workspace(env, gw, "gw-impostor")
    sshd.stop()
    impostor_key = gw.dir / "impostor_key"
    gs.keygen(impostor_key, "impostor")
    data = gs.workspace_secret(env, "gw-impostor")
    gw.sshds["gw-impostor"] = gs.Sshd(
        gw.dir / "sshd-impostor", impostor_key.read_text(), data["authorized_keys"]
    ).start()
    result = gw.ssh(keys["alice"], "gw-impostor", "echo should-not-run")
    assert result.returncode == 255 and result.stdout == b"", text(result)
    assert b"unexpected host key" in result.stderr, text(result)


# Clean close in both directions --------------------------------------------------------------


def test_client_going_away_ends_the_workspace_session(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], tmp_path: Path
) -> None:
    """The client dies: the gateway closes the Workspace side, so the remote command loses its
    output pipe and ends (as with a direct connection)."""
    marker = tmp_path / "remote.pid"
    command = f"echo $$ > {marker}; while sleep 0.2; do echo tick || exit 0; done"
    proc = subprocess.Popen(
        gw.ssh_command(keys["alice"], MAIN, command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid = int(wait_until(lambda: marker.read_text().strip() if marker.exists() else None, 30, what="the pid file"))
    proc.kill()
    proc.wait()
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 20, what="the remote loop to end after the client left")


def test_workspace_going_away_ends_the_client_session(env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    new_workspace(env, gw, "gw-vanish")
    proc = subprocess.Popen(
        gw.ssh_command(keys["alice"], "gw-vanish", "echo started; exec sleep 300"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        gw.sshds["gw-vanish"].kill_all()  # the pod goes away: sshd and every session die
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 255, (out, err)
        assert b"connection to the workspace was lost" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# Starting stopped Workspaces, activity, and no restart loop ----------------------------------


def annotations(env: Env, name: str) -> dict[str, str]:
    return (ws.get(env, name).get("metadata") or {}).get("annotations") or {}


def test_a_stopped_workspace_is_started_on_connect(env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    new_workspace(env, gw, "gw-sleepy", phase=crd.PHASE_STOPPED, running=False)
    assert ws.status(env, "gw-sleepy")["stoppedReason"] == crd.STOPPED_BY_USER
    result = gw.ssh(keys["alice"], "gw-sleepy", "echo awake")
    assert (result.returncode, result.stdout) == (0, b"awake\n"), text(result)
    progress = result.stderr.decode()
    assert "workspace 'gw-sleepy' is stopped by its user; starting it" in progress, progress
    assert "workspace 'gw-sleepy' is running" in progress, progress
    obj = ws.get(env, "gw-sleepy")
    assert obj["spec"]["running"] is True
    assert obj["status"]["phase"] == crd.PHASE_RUNNING
    assert annotations(env, "gw-sleepy")[crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "ssh"


def set_user_data(env: Env, user: str, **data: str) -> None:
    """Change a user's ConfigMap as the API's admin endpoints do (common/accounts.py)."""
    env.client.resources.get(api_version="v1", kind="ConfigMap").patch(
        name=f"cps1-user-{user}", namespace=NS, body={"data": data}, content_type="application/merge-patch+json"
    )


def test_a_start_on_connect_respects_the_owners_running_limit(env: Env, gw: gs.Harness, tmp_path: Path) -> None:
    """dave may run one Workspace at once (his own limit, set by an admin) and runs one: a
    connection to his stopped one is refused with the API's words and starts nothing."""
    dave = gs.client_key(tmp_path, "dave")
    gs.user_configmap(env, NS, "dave", [dave.public])
    set_user_data(env, "dave", **{"limits.json": json.dumps({"running": 1})})
    gw.created += ["gw-dave-on", "gw-dave-off"]
    ws.workspace(env, "gw-dave-on", TEMPLATE, owner="dave")
    ws.workspace(env, "gw-dave-off", TEMPLATE, owner="dave", running=False)
    ws.wait_phase(env, "gw-dave-on", crd.PHASE_RUNNING)
    ws.wait_phase(env, "gw-dave-off", crd.PHASE_STOPPED)

    result = gw.ssh(dave, "gw-dave-off", "echo awake")
    assert result.returncode == 255 and result.stdout == b"", text(result)
    assert b"cps1: dave already runs 1 of 1 Workspaces; stop one first" in result.stderr, text(result)
    obj = ws.get(env, "gw-dave-off")
    assert obj["spec"]["running"] is False
    assert crd.ANNOTATION_LAST_ACTIVITY not in annotations(env, "gw-dave-off")
    assert ws.status(env, "gw-dave-off")["phase"] == crd.PHASE_STOPPED


def test_a_disabled_user_is_refused_and_their_workspace_keeps_running(
    env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey]
) -> None:
    """Disabling carol stops new SSH logins within the lookup cache's time; the precise reason
    is told only to a client that proved carol's key, and her Workspace keeps running."""
    gs.user_configmap(env, NS, "carol", [keys["carol"].public])
    new_workspace(env, gw, "gw-carol", owner="carol")
    first = gw.ssh(keys["carol"], "gw-carol", "echo in")
    assert (first.returncode, first.stdout) == (0, b"in\n"), text(first)

    set_user_data(env, "carol", disabled="true")
    refused: list[subprocess.CompletedProcess] = []

    def is_refused() -> bool:
        refused.append(gw.ssh(keys["carol"], "gw-carol", "echo in"))
        return refused[-1].returncode == 255

    began = time.monotonic()
    wait_until(is_refused, gw.gateway.settings.lookup_cache_seconds + 10, what="carol to be refused")
    assert time.monotonic() - began <= gw.gateway.settings.lookup_cache_seconds + 5
    result = refused[-1]
    assert b"cps1: user 'carol' is disabled by an admin; ask an admin to enable the account" in result.stderr, text(
        result
    )
    assert b"Permission denied (publickey)" in result.stderr, text(result)
    stranger = gw.ssh(keys["stranger"], "gw-carol", "true")
    assert b"disabled" not in stranger.stderr, text(stranger)  # nothing told before a key is proven
    assert ws.status(env, "gw-carol")["phase"] == crd.PHASE_RUNNING

    set_user_data(env, "carol", disabled="false")
    wait_until(
        lambda: gw.ssh(keys["carol"], "gw-carol", "true").returncode == 0,
        gw.gateway.settings.lookup_cache_seconds + 10,
        what="carol to be let in again",
    )


def test_a_removed_key_stops_opening_new_connections_within_the_lookup_cache_time(
    env: Env, gw: gs.Harness, tmp_path: Path
) -> None:
    """Logins share the reads of a user's keys for LOOKUP_CACHE_SECONDS (a login storm costs
    one read): a key removed from the user's ConfigMap opens no new connection more than that
    later; her other key still does, and a connection it already opened stays, as with sshd."""
    erin, spare = gs.client_key(tmp_path, "erin"), gs.client_key(tmp_path, "erin-spare")
    gs.user_configmap(env, NS, "erin", [erin.public, spare.public])
    new_workspace(env, gw, "gw-erin", owner="erin")
    assert gw.ssh(erin, "gw-erin", "true").returncode == 0
    held = subprocess.Popen(
        gw.ssh_command(erin, "gw-erin", "echo ready; cat"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert held.stdin is not None and held.stdout is not None
    try:
        assert held.stdout.readline() == b"ready\n"
        gs.user_configmap(env, NS, "erin", [spare.public])
        removed = time.monotonic()
        # (seconds after the removal the attempt began, whether it was refused)
        attempts: list[tuple[float, bool]] = []

        def is_refused() -> bool:
            began = time.monotonic() - removed
            attempts.append((began, gw.ssh(erin, "gw-erin", "true").returncode == 255))
            return attempts[-1][1]

        bound = gw.gateway.settings.lookup_cache_seconds
        wait_until(is_refused, bound + 10, what="the removed key to be refused")
        if attempts[-1][0] <= bound:  # refused early: try once more past the bound
            time.sleep(bound - attempts[-1][0] + 0.1)
            assert is_refused()
        late = [refused for began, refused in attempts if began > bound]
        assert late and all(late), attempts
        assert gw.ssh(spare, "gw-erin", "true").returncode == 0
        held.stdin.write(b"still here\n")
        held.stdin.flush()
        assert held.stdout.readline() == b"still here\n"
    finally:
        held.kill()
        held.communicate()


def test_a_disabled_user_loses_open_sessions_within_the_stated_bound(
    env: Env, gw: gs.Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Disabling a user (the IdP removed them) ends their open sessions too, within the lookup
    cache's time plus the supervisor's account check (gateway/README.md); the client is told why
    on stderr and the audit line says so."""
    frank = gs.client_key(tmp_path, "frank")
    gs.user_configmap(env, NS, "frank", [frank.public])
    new_workspace(env, gw, "gw-frank", owner="frank")
    held = subprocess.Popen(
        gw.ssh_command(frank, "gw-frank", "echo ready; sleep 120"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert held.stdout is not None
    try:
        with caplog.at_level("INFO", logger="cps1.gateway.audit"):
            assert held.stdout.readline() == b"ready\n"
            set_user_data(env, "frank", disabled="true")
            disabled = time.monotonic()
            bound = gw.gateway.settings.lookup_cache_seconds + server.ACCOUNT_CHECK_SECONDS + server.SUPERVISE_SECONDS
            _, stderr = held.communicate(timeout=bound + 10)
            took = time.monotonic() - disabled
            assert took <= bound + 3, (took, stderr)

            def ended() -> dict | None:
                audits = [vars(r) for r in caplog.records if r.name == "cps1.gateway.audit"]
                return next((r for r in audits if (r["user"], r["end"]) == ("frank", "user-disabled")), None)

            audit = wait_until(ended, 10, what="the audit line of frank's connection")
        assert held.returncode == 255, (held.returncode, stderr)
        assert b"cps1: your account was disabled; the session is closed" in stderr, stderr
        assert (audit["workspace"], audit["authenticated"]) == ("gw-frank", True)
        revoked = gw.gateway.metrics.registry.get_sample_value(
            "cps1_gateway_revoked_connections_total", {"reason": "user-disabled"}
        )
        assert revoked and revoked >= 1
    finally:
        if held.poll() is None:
            held.kill()
            held.communicate()
        set_user_data(env, "frank", disabled="false")


def writes(gw: gs.Harness) -> float:
    value = gw.gateway.metrics.registry.get_sample_value("cps1_gateway_activity_writes_total", {"result": "ok"})
    return value or 0.0


def test_activity_keeps_a_workspace_in_use_running_then_idle_stop_sticks(
    env: Env, gw: gs.Harness, keys: dict[str, gs.ClientKey], http_server: tuple[int, bytes]
) -> None:
    """Two sessions open longer than the idle timeout: activity is recorded (at most once per
    interval, whatever the number of sessions) and the Workspace stays up. Once they end it is
    stopped as idle, and a reconnecting port-forward does not bring it back; a shell does."""
    new_workspace(env, gw, "gw-idle", idleTimeoutSeconds=6)
    before = writes(gw)
    began = time.monotonic()
    sessions = [
        subprocess.Popen(
            gw.ssh_command(keys["alice"], "gw-idle", "sleep 12; echo done"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    phases = set()
    while any(p.poll() is None for p in sessions):
        phases.add(ws.status(env, "gw-idle").get("phase"))
        time.sleep(0.5)
    elapsed = time.monotonic() - began
    for proc in sessions:
        assert proc.stdout is not None
        assert proc.stdout.read() == b"done\n"
        proc.stdout.close()
        assert proc.returncode == 0
    assert phases == {crd.PHASE_RUNNING}, phases
    notes = annotations(env, "gw-idle")
    assert notes[crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "ssh"
    count = writes(gw) - before
    assert 3 <= count <= elapsed / gw.gateway.settings.activity_interval_seconds + 2, (count, elapsed)

    status = ws.wait_phase(env, "gw-idle", crd.PHASE_STOPPED, timeout=60)
    assert status["stoppedReason"] == crd.STOPPED_BY_IDLE
    last = annotations(env, "gw-idle")[crd.ANNOTATION_LAST_ACTIVITY]

    http_port, _ = http_server
    for _ in range(3):  # a tunnel that keeps reconnecting
        forward = gw.ssh(keys["alice"], "gw-idle", options=("-W", f"127.0.0.1:{http_port}"))
        assert forward.returncode != 0
        assert b"stopped after its idle timeout" in forward.stderr, text(forward)
    # No write is pending: a flush now writes nothing (refused tunnels are never counted as
    # sessions), so what the Workspace shows is final, without waiting for an absence.
    assert gw.gateway.activity.flush() == 0
    assert ws.status(env, "gw-idle")["phase"] == crd.PHASE_STOPPED
    assert annotations(env, "gw-idle")[crd.ANNOTATION_LAST_ACTIVITY] == last

    shell = gw.ssh(keys["alice"], "gw-idle", "echo back")
    assert (shell.returncode, shell.stdout) == (0, b"back\n"), text(shell)
    assert b"stopped after its idle timeout; starting it" in shell.stderr


# Operations: health, metrics, audit, limits --------------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_health_metrics_and_audit_line(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="cps1.gateway.audit"):
        result = gw.ssh(keys["alice"], MAIN, "head -c 100000 /dev/zero", stdin=None, input=b"x" * 5000)
        assert result.returncode == 0 and len(result.stdout) == 100000
        gw.ssh(keys["stranger"], MAIN, "true")

        # An earlier test's connection (to another Workspace) may end, and write its own line,
        # in this window: wait for this test's two lines, each picked by what it is.
        def audits() -> list[dict]:
            return [vars(r) for r in caplog.records if r.name == "cps1.gateway.audit"]

        def ours() -> list[dict]:
            return [r for r in audits() if r["authenticated"] and r["workspace"] == MAIN]

        wait_until(lambda: ours() and any(not r["authenticated"] for r in audits()), 10, what="audit")
    ok = ours()[0]
    assert (ok["user"], ok["workspace"], ok["key"]) == (
        "alice",
        MAIN,
        gateway_keys.offered(paramiko_key(keys["alice"])).fingerprint,
    )
    assert ok["source"].startswith("127.0.0.1:") and ok["bytes_down"] >= 100000 and ok["bytes_up"] >= 5000
    assert ok["channels"] == {"exec": 1} and ok["duration_seconds"] > 0
    denied = next(r for r in audits() if not r["authenticated"])
    assert denied["denials"] == ["key-not-allowed"] and denied["user"] == "alice"

    assert get(gw.health_url + "/healthz") == (200, "ok\n")
    assert get(gw.health_url + "/readyz") == (200, "ready\n")
    status, page = get(gw.health_url + "/metrics")
    assert status == 200
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in page.splitlines() if line[:1] != "#"}
    assert values['cps1_gateway_bytes_total{direction="down"}'] >= 100000
    assert values['cps1_gateway_auth_failures_total{reason="key-not-allowed"}'] >= 1
    assert values["cps1_gateway_upstream_connect_seconds_count"] >= 1
    assert "cps1_gateway_connections" in values and 'cps1_gateway_channels{kind="session"}' in values


def paramiko_key(key: gs.ClientKey):
    return gateway_keys.load_private_key_file(key.path)


@pytest.fixture
def strict_gw(env: Env, gw: gs.Harness, tmp_path: Path) -> Iterator[gs.Harness]:
    """A second gateway with tight limits, relaying to the same Workspace sshd."""
    harness = gs.Harness(
        env,
        tmp_path,
        settings_for(
            env,
            max_connections=2,
            max_connections_per_user=1,
            auth_failures_per_source=3,
            auth_failure_window_seconds=300.0,
            idle_timeout_seconds=3.0,
            handshake_grace_seconds=4.0,
        ),
        gateway_keys.load_private_key(GATEWAY_PRIVATE_KEY),
    )
    harness.sshds = gw.sshds
    harness.start()
    yield harness
    harness.gateway.stop(drain=0)
    harness.health.stop()


def test_limits_per_user_idle_timeout_and_failed_logins(strict_gw: gs.Harness, keys: dict[str, gs.ClientKey]) -> None:
    busy = subprocess.Popen(
        strict_gw.ssh_command(keys["alice"], MAIN, "echo ready; for i in $(seq 40); do echo x; sleep 0.25; done"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert busy.stdout is not None and busy.stdout.readline() == b"ready\n"
        second = strict_gw.ssh(keys["alice"], MAIN, "true")
        assert second.returncode == 255
        assert b"user 'alice' already has 1 connections open (the limit)" in second.stderr, text(second)
        wait_until(lambda: strict_gw.gateway.limits.open_count == 1, 10, what="the refused connection to end")
        with socket_to(strict_gw.port) as holder:  # the second of two connections the gateway takes
            assert holder.recv(100).startswith(b"SSH-2.0-")
            third = strict_gw.ssh(keys["extra"], MAIN, "true")
            assert third.returncode == 255 and b"Permission denied" not in third.stderr, text(third)
    finally:
        busy.kill()
        busy.communicate()
    wait_until(lambda: strict_gw.gateway.limits.open_count == 0, 10, what="the connections to end")

    began = time.monotonic()
    idle = strict_gw.ssh(keys["alice"], MAIN, "sleep 20; echo late")
    assert idle.returncode == 255 and idle.stdout == b"", text(idle)
    assert b"cps1: closing this connection: no traffic for too long" in idle.stderr, text(idle)
    assert time.monotonic() - began < 15

    with socket_to(strict_gw.port) as raw:  # says nothing after the banner: dropped after the grace
        began = time.monotonic()
        assert raw.recv(100).startswith(b"SSH-2.0-CPS1Gateway")
        raw.settimeout(20)
        while raw.recv(4096):
            pass
        assert time.monotonic() - began < 10

    for _ in range(3):
        assert strict_gw.ssh(keys["stranger"], MAIN, "true").returncode == 255
    blocked = strict_gw.ssh(keys["alice"], MAIN, "true")
    assert blocked.returncode == 255
    assert b"Permission denied" not in blocked.stderr, text(blocked)  # refused before SSH is spoken


class ForgedKey(paramiko.Ed25519Key):
    """Someone's public key with a made-up signature: all an attacker who knows it can offer."""

    def __init__(self, public_line: str) -> None:
        super().__init__(data=base64.b64decode(public_line.split()[1]))

    def sign_ssh_data(self, data: bytes, algorithm: str | None = None) -> paramiko.Message:
        m = paramiko.Message()
        m.add_string("ssh-ed25519")
        m.add_string(os.urandom(64))
        return m


def test_forged_signatures_neither_log_in_nor_lock_the_owner_out(
    env: Env, gw: gs.Harness, tmp_path: Path, keys: dict[str, gs.ClientKey]
) -> None:
    harness = gs.Harness(
        env, tmp_path, settings_for(env, max_connections_per_user=1), gateway_keys.load_private_key(GATEWAY_PRIVATE_KEY)
    )
    harness.sshds = gw.sshds
    harness.start()
    attackers = []
    try:
        for _ in range(3):  # held open, as an attacker would
            attacker = paramiko.Transport(("127.0.0.1", harness.port))
            attackers.append(attacker)
            attacker.start_client(timeout=20)
            with pytest.raises(paramiko.AuthenticationException):
                attacker.auth_publickey(MAIN, ForgedKey(keys["alice"].public))
        result = harness.ssh(keys["alice"], MAIN, "echo in")
        assert (result.returncode, result.stdout) == (0, b"in\n"), text(result)
        assert harness.gateway.metrics.auth_failures.labels("bad-signature")._value.get() == 3
    finally:
        for attacker in attackers:
            attacker.close()
        harness.gateway.stop(drain=0)
        harness.health.stop()


def socket_to(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


# Agent forwarding (ssh -A) ----------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[Path, gs.ClientKey]]:
    """A real ssh-agent on its own socket, holding a key nothing else has; killed by PID."""
    socket_path = tmp_path / "agent.sock"
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(socket_path.exists, 10, what="the ssh-agent socket")
        key = gs.client_key(tmp_path, "git-key")
        added = subprocess.run(
            ["ssh-add", str(key.path)],
            env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)},
            capture_output=True,
            timeout=30,
        )
        assert added.returncode == 0, text(added)
        yield socket_path, key
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture
def git_server(tmp_path: Path, agent: tuple[Path, gs.ClientKey]) -> Iterator[tuple[gs.Sshd, Path]]:
    """A second loopback sshd standing for a Git server: it trusts only the agent's key."""
    gs.keygen(tmp_path / "git-host-key", "git-host")
    sshd = gs.Sshd(tmp_path / "git-sshd", (tmp_path / "git-host-key").read_text(), agent[1].public + "\n").start()
    known = gs.known_hosts(tmp_path / "git_known_hosts", sshd.port, (tmp_path / "git-host-key.pub").read_text())
    try:
        yield sshd, known
    finally:
        sshd.stop()


def push_command(sshd: gs.Sshd, known: Path) -> str:
    """What runs in the Workspace: list the agent's keys, then log in to the Git server."""
    return (
        "ssh-add -l; ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={known} -p {sshd.port} {gs.USER}@127.0.0.1 echo pushed"
    )


def ssh_a(harness: gs.Harness, key: gs.ClientKey, agent: Path, command: str) -> subprocess.CompletedProcess:
    """`ssh -A` with `agent` as the client's agent (OpenSSH forwards only an agent it can reach,
    so not with the harness's IdentityAgent=none; IdentitiesOnly still logs in with `key`)."""
    argv = harness.ssh_command(key, MAIN, command, options=("-A",))
    argv = [f"IdentityAgent={agent}" if arg == "IdentityAgent=none" else arg for arg in argv]
    return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def agent_audits(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [vars(r) for r in caplog.records if r.name == "cps1.gateway.audit" and vars(r)["authenticated"]]


def test_agent_forwarding_reaches_a_git_server_from_the_workspace(
    gw: gs.Harness,
    keys: dict[str, gs.ClientKey],
    agent: tuple[Path, gs.ClientKey],
    git_server: tuple[gs.Sshd, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`ssh -A` through the gateway: inside the Workspace the client's agent lists its key and
    logs in to a server that trusts only that key; the key itself stays in the agent."""
    socket_path, key = agent
    fingerprint = gateway_keys.offered(paramiko_key(key)).fingerprint
    with caplog.at_level("INFO", logger="cps1.gateway.audit"):
        result = ssh_a(gw, keys["alice"], socket_path, push_command(*git_server))
        assert result.returncode == 0, text(result)
        assert fingerprint.encode() in result.stdout and result.stdout.endswith(b"pushed\n"), text(result)
        wait_until(lambda: agent_audits(caplog), 10, what="audit")
    audit_line = agent_audits(caplog)[0]
    assert audit_line["agent"] == "forwarded"
    assert audit_line["channels"]["auth-agent@openssh.com"] >= 2  # ssh-add -l, then the login


def test_without_agent_forwarding_the_git_server_refuses(
    gw: gs.Harness, keys: dict[str, gs.ClientKey], git_server: tuple[gs.Sshd, Path]
) -> None:
    result = gw.ssh(keys["alice"], MAIN, push_command(*git_server))
    assert result.returncode != 0 and b"pushed" not in result.stdout, text(result)
    assert b"Could not open a connection to your authentication agent" in result.stderr, text(result)
    assert b"Permission denied" in result.stderr, text(result)


def test_agent_forwarding_switched_off_by_the_admin_says_so(
    env: Env,
    gw: gs.Harness,
    keys: dict[str, gs.ClientKey],
    agent: tuple[Path, gs.ClientKey],
    git_server: tuple[gs.Sshd, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "no-agent").mkdir()
    harness = gs.Harness(
        env,
        tmp_path / "no-agent",
        settings_for(env, agent_forwarding=False),
        gateway_keys.load_private_key(GATEWAY_PRIVATE_KEY),
    )
    harness.sshds = gw.sshds
    harness.start()
    try:
        with caplog.at_level("INFO", logger="cps1.gateway.audit"):
            result = ssh_a(harness, keys["alice"], agent[0], push_command(*git_server))
            wait_until(lambda: agent_audits(caplog), 10, what="audit")
    finally:
        harness.gateway.stop(drain=0)
        harness.health.stop()
    assert result.returncode != 0 and b"pushed" not in result.stdout, text(result)
    assert b"cps1: agent forwarding (ssh -A) is disabled on this gateway by its admin" in result.stderr, text(result)
    assert agent_audits(caplog)[0]["agent"] == "refused"
