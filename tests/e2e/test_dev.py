"""`cps1 dev up|status|down` as a user runs them (what `make run` and `make stop` call), as
processes: the refusal when KUBECONFIG points elsewhere, `--force-local`, the printed login
line that works, and `down` stopping everything by PID and leaving nothing behind.

The simulated nodes only (`--no-real-node`): the real node's own start and cleanup are
tests/e2e/test_node.py's, and `dev up`'s real-node path is what tests/e2e/test_real_workspaces.py
drives piece by piece."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def cps1(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cps1.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_dev_up_refuses_a_kubeconfig_it_did_not_make(tmp_path: Path) -> None:
    run = cps1("dev", "up", "--dir", str(tmp_path / "dev"), env={"KUBECONFIG": str(tmp_path / "theirs")})
    assert run.returncode == 1, run.stderr
    assert "KUBECONFIG is set" in run.stdout and "helm" in run.stdout.lower()
    assert not (tmp_path / "dev" / "state.json").exists()


def test_dev_up_then_login_then_down_leaves_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "dev"
    env = {"KUBECONFIG": str(tmp_path / "theirs"), "CPS1_CONFIG": str(tmp_path / "cli.json")}
    up = cps1("dev", "up", "--dir", str(state_dir), "--no-real-node", "--force-local", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = cps1("dev", "status", "--dir", str(state_dir), env=env)
        assert status.returncode == 0
        pids = {name: int(pid) for name, pid in json.loads(status.stdout)["pids"].items()}
        assert {"etcd", "kube-apiserver", "hooks", "api", "console", "gateway"} <= pids.keys(), pids
        assert all(alive(pid) for pid in pids.values()), pids

        login = re.search(r"cps1 login --url (\S+) --token (\S+)", up.stdout)
        assert login, up.stdout
        assert cps1("login", "--url", login[1], "--token", login[2], env=env).returncode == 0
        templates = cps1("template", "list", env=env)
        assert templates.returncode == 0, templates.stderr
        assert {"python", "node", "go"} <= set(re.findall(r"^(\w+)\b", templates.stdout, re.M))
        assert cps1("dev", "up", "--dir", str(state_dir), "--no-real-node", "--force-local", env=env).returncode == 1
    finally:
        down = cps1("dev", "down", "--dir", str(state_dir), env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert not (state_dir / "state.json").exists()
    assert not list(state_dir.glob("*-metrics-*"))
    assert cps1("dev", "status", "--dir", str(state_dir), env=env).returncode == 1
