"""The images as built here (from the cache when warm), run without a node: each image's root file
system, mounted read-only the way the pod runs it (tmpfs /tmp and home), in private mount, PID and
network namespaces whose only interface is their own loopback, as the image's own user with the
image's own environment. The Workspace images' toolchains work, code-server starts and answers
/healthz, the rendered sshd configuration passes `sshd -t` and sshd serves the Workspace's host
key; the services image runs its commands as uid 10001; Metacontroller's runs as non-root."""

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cps1.localcluster import images

WORKSPACES = ("workspace-python", "workspace-node", "workspace-go")
# Runs as root inside the new namespaces: a read-only view of the root file system with the pod's
# writable mounts (and the Workspace Secret, 0440 root:1000 as the kubelet mounts it), loopback
# up, then the command as the image's user.
ENTER = """
set -e
root=$1 user=$2 home=$3 secret=$4; shift 4
mkdir -p "$root/proc" "$root/dev" "$root/tmp"
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
if [ "$home" != / ]; then mount -t tmpfs -o "mode=0755,uid=${user%%:*},gid=${user##*:}" tmpfs "$root$home"; fi
if [ -n "$secret" ]; then
  cp -r "$secret" "$root/tmp/secret" && chown -R "0:${user##*:}" "$root/tmp/secret" && chmod 0440 "$root"/tmp/secret/*
fi
mount -o remount,bind,ro "$root"
ip link set lo up
exec chroot --userspec="$user" "$root" "$@"
"""


@dataclass(frozen=True)
class Rootfs:
    path: Path
    user: str
    env: tuple[str, ...]
    home: str


@pytest.fixture(scope="module")
def built() -> dict[str, images.Built]:
    return {b.name: b for b in images.ensure()}


@contextlib.contextmanager
def mounted(image: images.Built) -> Iterator[Rootfs]:
    """The image's root file system (a buildah working container on its archive) and config."""
    out = {"stdout": subprocess.PIPE, "text": True}
    container = images.buildah("from", "--quiet", f"oci-archive:{image.archive}", **out).stdout.strip()
    try:
        path = Path(images.buildah("mount", container, **out).stdout.strip())
        config = json.loads(images.buildah("inspect", "--type", "container", container, **out).stdout)["OCIv1"][
            "config"
        ]
        env = tuple(config.get("Env", []))
        home = next((e.split("=", 1)[1] for e in env if e.startswith("HOME=")), config.get("WorkingDir") or "/")
        yield Rootfs(path, config.get("User", "0:0"), env, home if home != "/tmp" else "/")
    finally:
        images.buildah("rm", container, stdout=subprocess.DEVNULL)


def run(rootfs: Rootfs, script: str, secret: Path | None = None, timeout: float = 180) -> str:
    """`script` in bash as the image's user; its output (a failure shows the output too)."""
    home = [] if rootfs.home == "/" else [f"HOME={rootfs.home}"]
    return execute(rootfs, ["/usr/bin/env", "-i", *rootfs.env, *home, "bash", "-c", f"cd ~; {script}"], secret, timeout)


def execute(rootfs: Rootfs, argv: list[str], secret: Path | None = None, timeout: float = 180) -> str:
    isolate = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--"]
    args = [str(rootfs.path), rootfs.user, rootfs.home, str(secret or "")]
    done = subprocess.run(
        [*isolate, "sh", "-c", ENTER, "enter", *args, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout
    return done.stdout


@pytest.mark.parametrize(
    ("name", "script", "expected"),
    [
        ("workspace-python", "python3 --version && python3 -m venv /tmp/v && /tmp/v/bin/pip --version", "Python 3."),
        ("workspace-node", "node --version && npm --version", "v20."),
        (
            "workspace-go",
            "go version && mkdir /tmp/h && cd /tmp/h && printf 'package main\\nfunc main() { println(\"hi\") }\\n' "
            ">main.go && go mod init h 2>/dev/null && go run . && gopls version && dlv version",
            "hi",
        ),
    ],
)
def test_workspace_images_carry_their_toolchain(built, name: str, script: str, expected: str) -> None:
    with mounted(built[name]) as rootfs:
        assert rootfs.user == "1000:1000" and rootfs.home == "/home/coder"
        out = run(rootfs, f"echo id=$(id -u):$(id -g):$(id -un); git --version; code-server --version; {script}")
    assert "id=1000:1000:coder" in out
    assert "4.100.3" in out and "git version" in out
    assert expected in out


def test_workspace_starts_code_server_and_sshd(built, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(secret / "ssh_host_ed25519_key")], check=True
    )
    (secret / "authorized_keys").write_text((secret / "ssh_host_ed25519_key.pub").read_text())
    (secret / "password").write_text("correct horse")
    script = """
export CPS1_SECRET_DIR=/tmp/secret
cps1-workspace-start >/tmp/start.log 2>&1 &
for _ in $(seq 240); do curl -fsS http://127.0.0.1:8080/healthz >/tmp/healthz 2>/dev/null && break; sleep 0.5; done
echo "healthz=$(cat /tmp/healthz)"
echo "root=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1:8080/)"
/usr/sbin/sshd -t -f /tmp/cps1-sshd/sshd_config && echo sshd-t=ok
for _ in $(seq 40); do
  ssh-keyscan -p 2222 -t ed25519 127.0.0.1 >/tmp/keys 2>/dev/null && [ -s /tmp/keys ] && break; sleep 0.5
done
echo "keyscan=$(grep -v '^#' /tmp/keys | cut -d' ' -f2-)"
echo "processes=$(ps -o user= -C sshd,node | sort -u | tr '\\n' ' ')"
cat /tmp/start.log
"""
    with mounted(built["workspace-python"]) as rootfs:
        out = run(rootfs, script, secret=secret)
    lines = dict(line.split("=", 1) for line in out.splitlines() if "=" in line and line.split("=", 1)[0].isalpha())
    assert json.loads(lines["healthz"])["status"] in ("alive", "expired"), out
    assert lines["root"].startswith("302 http://127.0.0.1:8080/login"), out  # password sign-in is on
    assert "sshd-t=ok" in out, out
    host_key = " ".join((secret / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    assert lines["keyscan"].strip() == host_key, out
    assert lines["processes"].split() == ["coder"], out


def test_services_image_runs_its_commands_as_10001(built) -> None:
    with mounted(built["cps1"]) as rootfs:
        assert rootfs.user == "10001:10001"
        out = run(
            rootfs,
            "echo id=$(id -u):$(id -g); cps1 --help >/dev/null && echo cli=ok; "
            "command -v gunicorn cps1-gateway cps1-console cps1-ide-prober; "
            "python3 -c 'import hooks.app, api.app, gateway.connection, console.forms, streamlit' && echo imports=ok",
        )
    assert "id=10001:10001" in out and "cli=ok" in out and "imports=ok" in out, out
    assert out.count("/opt/cps1/bin/") == 4, out


def test_metacontroller_image_is_its_binary_and_the_ca_bundle_run_non_root(built) -> None:
    with mounted(built["metacontroller"]) as rootfs:
        assert rootfs.user == "65532:65532"
        files = sorted(str(p.relative_to(rootfs.path)) for p in rootfs.path.rglob("*") if p.is_file())
        out = execute(rootfs, ["/usr/bin/metacontroller", "--help"])
    assert files == ["etc/ssl/certs/ca-certificates.crt", "usr/bin/metacontroller"]
    assert "discovery-interval" in out, out


def test_a_warm_call_takes_every_image_from_the_cache(built) -> None:
    again = {b.name: b for b in images.ensure()}
    assert again == built
    assert all(b.archive.is_file() and b.digest.startswith("sha256:") for b in again.values())
