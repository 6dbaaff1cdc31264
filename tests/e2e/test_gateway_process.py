"""The gateway as it is deployed: `python -m gateway` configured by CPS1_GATEWAY_* variables,
its host key persisted in a Secret across restarts, JSON logs with an audit line per
connection, the side port, and a graceful stop on SIGTERM that lets a running session finish.

The process's upstream is a fixed loopback address (the sshd of this module's Workspace), so
it dials nothing but 127.0.0.1.
"""

import base64
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from kubernetes.dynamic.exceptions import NotFoundError

import kubeclient as kube
from common import crd
from cps1.localcluster.processes import Process, free_port, http_ok
from gateway import keys
from tests.constants import GATEWAY_PRIVATE_KEY
from tests.support import gateway as gs
from tests.support import workspaces as ws
from tests.support.cluster import Env

NS = "cps1-gw-proc"
NAME = "gw-proc"
SECRET = "gw-proc-host-key"


@pytest.fixture(scope="module")
def setup(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    directory = tmp_path_factory.mktemp("gateway-process")
    alice = gs.client_key(directory, "alice")
    gs.namespace(env, NS)
    with contextlib.suppress(NotFoundError):  # the first start must generate the host key
        kube.resource(env.client, "v1", "Secret").delete(name=SECRET, namespace=NS)
    gs.user_configmap(env, NS, "alice", [alice.public])
    ws.template(env, "gw-proc-python")
    ws.workspace(env, NAME, "gw-proc-python")
    ws.wait_phase(env, NAME, crd.PHASE_RUNNING)
    sshd = gs.sshd_for(env, NAME, directory / "sshd")
    upstream_key = directory / "gateway_key"
    upstream_key.write_text(GATEWAY_PRIVATE_KEY)
    upstream_key.chmod(0o600)
    yield {"dir": directory, "alice": alice, "sshd": sshd, "upstream_key": upstream_key}
    sshd.stop()
    ws.delete(env, NAME)
    ws.wait_gone(env, NAME)


def gateway_process(env: Env, setup: dict, name: str, extra: dict[str, str] | None = None) -> tuple[Process, int, str]:
    port, health = free_port(), free_port()
    proc = Process(
        name,
        [sys.executable, "-m", "gateway"],
        setup["dir"] / f"{name}.log",
        {
            "CPS1_GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "CPS1_GATEWAY_HEALTH_LISTEN": f"127.0.0.1:{health}",
            "CPS1_GATEWAY_KUBECONFIG": str(env.cluster.kubeconfig),
            "CPS1_GATEWAY_SYSTEM_NAMESPACE": NS,
            "CPS1_GATEWAY_HOST_KEY_SECRET": SECRET,
            "CPS1_GATEWAY_UPSTREAM": "127.0.0.1:{}".format(setup["sshd"].port),
            "CPS1_GATEWAY_UPSTREAM_USER": gs.USER,
            "CPS1_GATEWAY_UPSTREAM_KEY_FILE": str(setup["upstream_key"]),
            "CPS1_GATEWAY_DRAIN_SECONDS": "15",
            **(extra or {}),
        },
        ready=lambda: http_ok(f"http://127.0.0.1:{health}/readyz"),
    )
    proc.start()
    proc.wait_ready(30)
    return proc, port, f"http://127.0.0.1:{health}"


def host_key_line(env: Env) -> str:
    """The public half of the host key the gateway stored in its Secret."""
    secret = kube.get(env.client, "v1", "Secret", SECRET, NS)
    assert secret is not None, "the gateway did not persist its host key"
    private = base64.b64decode(secret["data"][keys.HOST_KEY]).decode()
    return keys.public_line(keys.load_private_key(private))


def ssh(setup: dict, port: int, known: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    argv = [*gs.ssh_base(setup["alice"].path, known), "-p", str(port), f"{NAME}@127.0.0.1", *args]
    return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, **kwargs)


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_gateway_process_end_to_end(env: Env, setup: dict) -> None:
    first, port, health = gateway_process(env, setup, "gateway-1")
    first_key = host_key_line(env)
    try:
        known = gs.known_hosts(setup["dir"] / "known_hosts", port, first_key)
        result = ssh(setup, port, known, "echo via-process")
        assert (result.returncode, result.stdout) == (0, b"via-process\n"), result
        with urllib.request.urlopen(health + "/metrics", timeout=10) as response:
            page = response.read().decode()
        assert 'cps1_gateway_bytes_total{direction="down"}' in page

        # SIGTERM while a session runs: the session finishes, then the process exits 0.
        argv = [*gs.ssh_base(setup["alice"].path, known), "-p", str(port), f"{NAME}@127.0.0.1"]
        session = subprocess.Popen(
            [*argv, "echo started; sleep 3; echo finished"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert session.stdout is not None and session.stdout.readline() == b"started\n"
        assert first.popen is not None
        first.popen.send_signal(signal.SIGTERM)
        out, _ = session.communicate(timeout=30)
        assert (session.returncode, out) == (0, b"finished\n")
        assert first.popen.wait(30) == 0
        refused = ssh(setup, port, known, "true")
        assert refused.returncode == 255  # no longer listening
    finally:
        first.stop()

    lines = json_lines(setup["dir"] / "gateway-1.log")
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    audits = [line for line in lines if line.get("event") == "ssh-connection" and line.get("authenticated")]
    assert len(audits) >= 2
    audit = audits[0]
    assert audit["user"] == "alice" and audit["workspace"] == NAME and audit["source"].startswith("127.0.0.1:")
    assert audit["bytes_down"] > 0 and audit["duration_seconds"] > 0 and audit["channels"] == {"exec": 1}

    # A restart presents the same host key: strict host key checking still passes.
    second, port, _ = gateway_process(env, setup, "gateway-2")
    try:
        known = gs.known_hosts(setup["dir"] / "known_hosts", port, first_key)
        again = ssh(setup, port, known, "echo same-key")
        assert (again.returncode, again.stdout) == (0, b"same-key\n"), again
    finally:
        second.stop()


def test_bad_settings_exit_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway"],
        env={"CPS1_GATEWAY_MAX_CONNECTIONS": "many", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"CPS1_GATEWAY_MAX_CONNECTIONS" in result.stderr


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def push(chan: paramiko.Channel, total: int, sent: list[int], until: float) -> None:
    """Send up to `total` bytes, as fast as the channel's window allows, until `until`."""
    chan.settimeout(0.5)
    block = b"x" * 32768
    done = 0
    while done < total and time.monotonic() < until:
        try:
            n = chan.send(block)
        except TimeoutError:
            continue
        except (OSError, EOFError, paramiko.SSHException):
            return
        if n <= 0:
            return
        done += n
        sent[0] += n


def test_a_channel_flood_stays_within_the_buffer_budget(env: Env, setup: dict) -> None:
    """One user opens 4 connections x 24 channels to a command that never reads its stdin and
    pushes data into each: everything sshd does not take waits in the gateway. Before the
    budget each channel could hold its 2 MiB window plus a chunk (~216 MiB here; with the
    defaults 20 connections x 64 channels ~3.8 GiB). Now all channels together reserve at most
    the budget (32 MiB here); the bound allows 16 MiB more for the bookkeeping of 96 channels
    and 8 SSH connections (threads, Paramiko objects). Measured: 30 MiB of growth; the gateway
    before the budget grew 260 MiB in this test."""
    budget_mib, connections, per_connection = 32, 4, 24
    proc, port, _ = gateway_process(env, setup, "gateway-flood", {"CPS1_GATEWAY_BUFFER_BUDGET_MIB": str(budget_mib)})
    assert proc.popen is not None
    pid = proc.popen.pid
    key = keys.load_private_key_file(setup["alice"].path)
    transports: list[paramiko.Transport] = []
    try:
        baseline = memory_kib(pid, "VmRSS")
        channels = []
        for _ in range(connections):
            transport = paramiko.Transport(("127.0.0.1", port))
            transports.append(transport)
            transport.start_client(timeout=20)
            transport.auth_publickey(NAME, key)
            for _ in range(per_connection):
                chan = transport.open_session(timeout=20)
                chan.exec_command("sleep 300")
                channels.append(chan)
        sent = [0]
        until = time.monotonic() + 90
        pushers = [
            threading.Thread(target=push, args=(chan, 8 * 1024 * 1024, sent, until), daemon=True) for chan in channels
        ]
        for pusher in pushers:
            pusher.start()
        last, still = -1, 0
        while still < 6 and time.monotonic() < until:  # until nothing moves for 3 s
            time.sleep(0.5)
            still, last = (still + 1, last) if sent[0] == last else (0, sent[0])
        peak = memory_kib(pid, "VmHWM")
    finally:
        for transport in transports:
            transport.close()
        proc.stop()
    growth_mib = (peak - baseline) / 1024
    print(
        f"channels={len(channels)} sent={sent[0] / 2**20:.0f}MiB baseline={baseline / 1024:.0f}MiB "
        f"peak={peak / 1024:.0f}MiB growth={growth_mib:.0f}MiB"
    )
    assert sent[0] >= len(channels) * 2 * 1024 * 1024  # sshd took its windows: the rest waited in the gateway
    assert growth_mib < budget_mib + 16
