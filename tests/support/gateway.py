"""Helpers for the gateway's end-to-end tests: a real OpenSSH sshd standing in for a Workspace's
sshd, client keys, user ConfigMaps, and the OpenSSH client command lines.

Pods are simulated by kwok, so no container runs the Workspace's sshd; each test Workspace
gets a real `sshd` on 127.0.0.1 instead, configured from the Workspace's own Secret (its host
key, and authorized_keys holding the gateway's key), exactly as the pod would be.
"""

import base64
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import kubeclient as kube
from cps1.localcluster.processes import LOOPBACK, Process, free_port
from tests.support import workspaces as ws
from tests.support.cluster import Env

SSHD = "/usr/sbin/sshd"
SSHD_CONFIG = Path(__file__).resolve().parents[2] / "images" / "workspace"
# What the loopback tier adds to the image's sshd configuration, each for a reason of its own.
# sshd keeps the first value it reads for most keywords, so these come before the image's lines.
LOOPBACK_FIRST = """\
# Loopback tier: the login is the test runner's own account (root on CI machines), not `coder`.
PermitRootLogin prohibit-password
# Loopback tier: a test or benchmark logs in directly with its own key beside the gateway's.
AuthorizedKeysFile {dir}/authorized_keys {dir}/authorized_keys_extra
# Loopback tier: sessions start in a clean home (clean_home), not the runner's own.
SetEnv HOME={home}
"""
LOOPBACK_AFTER = """\
# Loopback tier: the storm tests and benchmarks open hundreds of sessions to one sshd.
MaxStartups 300:30:600
MaxSessions 300
# The tests read the log.
LogLevel VERBOSE
"""
USER = pwd.getpwuid(os.getuid()).pw_name


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def keygen(path: Path, comment: str) -> str:
    """A new Ed25519 key pair at `path`; returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True, timeout=30
    )
    return Path(f"{path}.pub").read_text().strip()


@dataclass
class ClientKey:
    path: Path
    public: str


def client_key(directory: Path, name: str) -> ClientKey:
    path = directory / name
    return ClientKey(path, keygen(path, f"{name}@e2e"))


def user_configmap(env: Env, namespace: str, user: str, keys: list[str], admin: bool = False) -> None:
    """A user as the api stores it (common/accounts.py): ConfigMap cps1-user-<name>."""
    entries = [{"name": f"key{i}", "key": key, "fingerprint": "", "added": ws.now_text()} for i, key in enumerate(keys)]
    kube.apply(
        env.client,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"cps1-user-{user}",
                "namespace": namespace,
                "labels": {"cps1.io/kind": "user", "cps1.io/user": user},
            },
            "data": {"admin": "true" if admin else "false", "keys.json": json.dumps(entries)},
        },
    )


def namespace(env: Env, name: str) -> None:
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def workspace_secret(env: Env, workspace: str) -> dict[str, str]:
    secret = ws.child(env, workspace, "v1", "Secret", "workspace")
    assert secret is not None, f"workspace {workspace} has no Secret"
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def clean_home(directory: Path) -> Path:
    """An empty home for a loopback sshd's sessions (its `SetEnv HOME`), made afresh for every
    sshd and every benchmark run. The loopback tier logs in as the runner's own account (root
    on CI), whose shell start-up is not a Workspace's: here root's ~/.bashrc runs `pyenv init`,
    which rehashes under a lock, so 200 logins at once queued up to a minute on it, direct or
    through the gateway alike, and what one run's sessions left behind (histories, caches)
    changed the next run. A Workspace's user starts from its image's fresh home."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    return directory


def workspace_sshd_config(run_dir: Path, secret_dir: Path, port: int, listen: str) -> str:
    """The Workspace image's own sshd configuration, rendered by the image's own script
    (images/workspace/cps1-sshd-config from sshd_config.in)."""
    env = {
        **os.environ,
        "CPS1_SSHD_TEMPLATE": str(SSHD_CONFIG / "sshd_config.in"),
        "CPS1_SSH_PORT": str(port),
        "CPS1_SSH_LISTEN": listen,
        "CPS1_SSHD_RUN_DIR": str(run_dir),
        "CPS1_SECRET_DIR": str(secret_dir),
    }
    script = SSHD_CONFIG / "cps1-sshd-config"
    return subprocess.run([str(script)], env=env, check=True, capture_output=True, text=True).stdout


class Sshd:
    """A real OpenSSH sshd on 127.0.0.1 playing a Workspace's sshd."""

    def __init__(self, directory: Path, host_key: str, authorized_keys: str, extra_keys: Sequence[str] = ()) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.port = free_port()
        key_file = directory / "host_key"
        key_file.write_text(host_key)
        key_file.chmod(0o600)
        (directory / "authorized_keys").write_text(authorized_keys)
        (directory / "authorized_keys_extra").write_text("".join(k + "\n" for k in extra_keys))
        self.home = clean_home(directory / "home")
        self.config = directory / "sshd_config"
        self.config.write_text(
            LOOPBACK_FIRST.format(dir=directory, home=self.home)
            + workspace_sshd_config(directory, directory, self.port, LOOPBACK)
            + LOOPBACK_AFTER
        )
        self.process = Process(f"sshd-{self.port}", [SSHD, "-D", "-e", "-f", str(self.config)], directory / "sshd.log")

    def start(self) -> "Sshd":
        if os.getuid() == 0:
            # sshd running as root needs its privilege-separation directory; the package's service
            # creates it when it starts, which we prevent (no system sshd on 0.0.0.0:22).
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process.ready = lambda: port_open(self.port)
        self.process.start()
        self.process.wait_ready(20)
        return self

    def stop(self) -> None:
        self.process.stop()

    def kill_all(self) -> None:
        """Kill the listener and every process it started, by PID, as a pod's end would: sshd
        puts each connection in its own session, so stopping the listener alone leaves them."""
        root = self.process.pid
        if root is None:
            return
        for pid in [*descendants(root), root]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    def log(self) -> str:
        return (self.dir / "sshd.log").read_text(errors="replace")


def sshd_for(env: Env, workspace: str, directory: Path, extra_keys: Sequence[str] = ()) -> Sshd:
    """An sshd configured from the Workspace's Secret, as its pod would be."""
    data = workspace_secret(env, workspace)
    return Sshd(directory, data["ssh_host_ed25519_key"], data["authorized_keys"], list(extra_keys)).start()


def known_hosts(path: Path, port: int, public_line: str) -> Path:
    path.write_text(f"[{LOOPBACK}]:{port} {public_line}\n")
    return path


def ssh_base(key: Path, known: Path, *options: str) -> list[str]:
    """The OpenSSH client with nothing from the user's config, pinned to `known` host keys."""
    return openssh("ssh", key, known, *options)


def openssh(program: str, key: Path, known: Path, *options: str) -> list[str]:
    """`ssh`, `scp` or `sftp` with nothing from the user's config, pinned to `known` host keys."""
    return [
        program,
        "-F",
        "/dev/null",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=20",
        *options,
    ]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Harness:
    """A gateway running in the test process (so the loopback guard covers its dials), with one
    loopback sshd per Workspace it serves."""

    def __init__(self, env: Env, directory: Path, settings, upstream_key) -> None:
        from gateway import keys
        from gateway.cluster import Cluster
        from gateway.health import HealthServer
        from gateway.server import Gateway

        self.env = env
        self.dir = directory
        # Workspaces the tests made through this harness, for the fixture to delete.
        self.created: list[str] = []
        self.sshds: dict[str, Sshd] = {}
        self.cluster = Cluster.connect(settings.kubeconfig, settings.system_namespace)
        host_key = keys.host_key(self.cluster, settings.system_namespace, settings.host_key_secret)
        self.host_key_line = keys.public_line(host_key)
        self.gateway = Gateway(settings, self.cluster, host_key, upstream_key, resolve=self._resolve)
        self.port = self.gateway.address[1]
        self.health = HealthServer(settings.health_listen, self.gateway.ready, self.gateway.metrics.registry)
        self.health_url = "http://{}:{}".format(*self.health.address)
        self.known = known_hosts(directory / "known_hosts", self.port, self.host_key_line)

    def _resolve(self, workspace: str) -> tuple[str, int]:
        return self.sshds[workspace].address

    def start(self) -> "Harness":
        self.gateway.start()
        self.health.start()
        return self

    def stop(self) -> None:
        self.gateway.stop(drain=0)
        self.health.stop()
        for sshd in self.sshds.values():
            sshd.stop()

    def serve(self, workspace: str, extra_keys: Sequence[str] = ()) -> Sshd:
        """Start the loopback sshd of `workspace` from its Secret."""
        sshd = sshd_for(self.env, workspace, self.dir / f"sshd-{workspace}", list(extra_keys))
        self.sshds[workspace] = sshd
        return sshd

    def ssh_command(self, key: ClientKey, login: str, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        return [*ssh_base(key.path, self.known, *options), "-p", str(self.port), f"{login}@{LOOPBACK}", *args]

    def ssh(
        self, key: ClientKey, login: str, *args: str, options: tuple[str, ...] = (), timeout: float = 120, **kwargs
    ) -> subprocess.CompletedProcess:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.ssh_command(key, login, *args, options=options), timeout=timeout, **kwargs)
