"""Workspaces as users get them, on the real node: the example templates' images (built here)
run code-server and sshd under the restricted profile; the real OpenSSH client reaches the
Workspace's own sshd through the gateway; the home volume survives a stop and a start; and
one Workspace cannot reach another's ports while the gateway can.

The gateway runs as `cps1 dev up` runs it (a host process reaching each Workspace by its
Service's cluster IP). Only loopback and the run's pod and Service ranges are dialled.
"""

import base64
import functools
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from playwright.sync_api import Browser, expect

import kubeclient as kube
from common import crd
from cps1 import dev
from cps1.dev import import_workspace_images
from cps1.localcluster import gateway, ingress, node
from cps1.localcluster.cluster import LocalCluster, binaries
from cps1.localcluster.processes import free_port
from gateway import keys
from gateway.cluster import Cluster
from tests.conftest import ROOT
from tests.constants import GATEWAY_KEY, GATEWAY_PRIVATE_KEY
from tests.e2e import console_support
from tests.support import gateway as gs
from tests.support import workspaces as ws
from tests.support.cluster import ARTIFACTS, Env, found, installed, wait_until
from tests.support.node import kubectl

SYSTEM_NS = "cps1-system"
TEMPLATES = {"python": ["python3", "--version"], "node": ["node", "--version"], "go": ["go", "version"]}
# A pulled image, a first code-server start on 2 loaded cores: minutes, not seconds.
START_SECONDS = 300


@pytest.fixture(scope="module")
def real_env(real_cluster: LocalCluster) -> Iterator[Env]:
    """CPS1 on the real node with the example templates, their images imported, and the local
    ingress controller serving each Workspace's IDE at http://<name>.localhost:<port>/."""
    import_workspace_images(real_cluster)
    ing = ingress.start(real_cluster, binaries(("caddy",))["caddy"])
    with installed(real_cluster, "real-hook-requests", ing.hooks_env()) as env:
        for name in TEMPLATES:
            kube.apply(env.client, yaml.safe_load((ROOT / "examples" / "templates" / f"{name}.yaml").read_text()))
        yield env


@pytest.fixture(scope="module")
def ssh(real_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The gateway (host process, `{service_ip}:22` upstream) and alice's key registered."""
    directory = tmp_path_factory.mktemp("real-gateway")
    private = directory / "upstream_key"
    private.write_text(GATEWAY_PRIVATE_KEY)
    private.chmod(0o600)
    kube.apply(real_env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    gateway.ensure_host_key(real_env.client, SYSTEM_NS)
    alice = gs.client_key(directory, "alice")
    gs.user_configmap(real_env, SYSTEM_NS, "alice", [alice.public])
    port = free_port()
    proc = gateway.gateway_process(
        directory, real_env.cluster.kubeconfig, SYSTEM_NS, gateway.GatewayKeys(private, GATEWAY_KEY), port
    )
    real_env.cluster.launch(proc)
    host_line = keys.public_line(
        keys.host_key(Cluster.connect(str(real_env.cluster.kubeconfig), SYSTEM_NS), SYSTEM_NS, gateway.HOST_KEY_SECRET)
    )
    known = gs.known_hosts(directory / "known_hosts", port, host_line)
    yield {"port": port, "key": alice, "known": known, "dir": directory}
    proc.stop()
    real_env.cluster.procs.remove(proc)


def run_ssh(
    ssh: dict, login: str, *command: str, program: str = "ssh", options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    argv = [*gs.openssh(program, ssh["key"].path, ssh["known"], *options)]
    if program == "ssh":
        argv += ["-p", str(ssh["port"]), f"{login}@127.0.0.1", *command]
    else:
        argv += ["-P", str(ssh["port"]), *command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def ssh_process(ssh: dict, login: str, *options: str, **popen: Any) -> subprocess.Popen:
    """A long-running `ssh` (a forward) through the gateway; the caller ends it."""
    argv = [*gs.openssh("ssh", ssh["key"].path, ssh["known"], *options), "-p", str(ssh["port"]), f"{login}@127.0.0.1"]
    return subprocess.Popen(argv, stderr=subprocess.DEVNULL, **popen)


def pod_of(env: Env, name: str) -> dict:
    pods = kube.resource(env.client, "v1", "Pod").get(namespace=f"ws-{name}").to_dict()["items"]
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return running[0]


def exec_in(env: Env, name: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    pod = pod_of(env, name)["metadata"]["name"]
    return kubectl(env.cluster, f"ws-{name}", "exec", pod, "-c", "workspace", "--", *command, check=check)


def service_ip(env: Env, name: str) -> str:
    return str(found(kube.get(env.client, "v1", "Service", "workspace", f"ws-{name}"))["spec"]["clusterIP"])


@pytest.fixture(scope="module")
def running(real_env: Env) -> Iterator[list[str]]:
    """One Workspace of each example template, created together, Running on the real node."""
    names = [f"real-{template}" for template in TEMPLATES]
    for template, name in zip(TEMPLATES, names, strict=True):
        ws.workspace(real_env, name, template)
    for name in names:
        ws.wait_phase(real_env, name, crd.PHASE_RUNNING, timeout=START_SECONDS)
    yield names
    for name in names:
        ws.delete(real_env, name)
    for name in names:
        ws.wait_gone(real_env, name, timeout=180)


def test_each_example_template_runs_its_toolchain_and_ide(real_env: Env, running: list[str]) -> None:
    for (template, version), name in zip(TEMPLATES.items(), running, strict=True):
        pod = pod_of(real_env, name)
        assert pod["spec"]["nodeName"] == node.NAME
        assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
        out = exec_in(real_env, name, *version)
        assert out.returncode == 0 and out.stdout.strip(), (template, out.stderr)
        # code-server through the Workspace Service (kube-proxy), as the ingress controller reaches
        # it. Running follows the pod's readiness; kube-proxy programs the Service from the
        # EndpointSlice that readiness updates, a sync later (refused until then: seen under load).
        url = f"http://{service_ip(real_env, name)}:8080/healthz"
        health = wait_until(functools.partial(_get, url), 30, 0.5, what=f"{name}'s IDE through its Service")
        assert health.status_code == 200 and health.json()["status"] in ("alive", "expired")
        login = requests.get(f"http://{service_ip(real_env, name)}:8080/", timeout=10, allow_redirects=False)
        assert login.status_code == 302 and "login" in login.headers["Location"]


def test_the_console_opens_the_ide_and_the_prober_sees_it_used(
    real_env: Env, running: list[str], chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The user's path: sign in to the console, pick the Workspace, reveal its IDE password,
    follow "Open IDE" (the ingress at http://<name>.localhost:<port>/), sign in to code-server,
    the VS Code workbench. While it is open, the IDE prober (as `cps1 dev up` runs it) records
    code-server's own heartbeat as `ide` activity."""
    name = running[0]
    run_dir = tmp_path_factory.mktemp("real-console")
    secret = found(kube.get(real_env.client, "v1", "Secret", "workspace", f"ws-{name}"))
    expected = base64.b64decode(secret["data"]["password"]).decode()
    with console_support.running_api(real_env, run_dir) as api_url:
        console, console_url = dev.console_process(run_dir, api_url)
        console.start()
        context = chromium.new_context(viewport={"width": 1400, "height": 1600})
        try:
            console.wait_ready(60)
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(console_url)
            console_support.sign_in(page, console_support.user_token(api_url, "alice"))
            page.get_by_label("Workspace", exact=True).click()
            page.get_by_role("option", name=name, exact=True).click()
            expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
            assert console_support.reveal_ide_password(page) == expected
            link = page.get_by_role("link", name="Open IDE")
            expect(link).to_have_attribute("href", ws.status(real_env, name)["ideURL"])
            with context.expect_page() as opened:
                link.click()
            ide = opened.value
            ide.set_default_timeout(120_000)
            console_support.sign_in_to_code_server(ide, expected)
            (ARTIFACTS / "real").mkdir(parents=True, exist_ok=True)
            ide.screenshot(path=str(ARTIFACTS / "real" / "ide-workbench.png"))

            prober = dev.prober_process(run_dir, real_env.cluster.kubeconfig)
            prober.start()
            try:
                source = crd.ANNOTATION_LAST_ACTIVITY_SOURCE
                wait_until(
                    lambda: ws.get(real_env, name)["metadata"].get("annotations", {}).get(source) == "ide",
                    90,
                    what="the prober recording the IDE session as activity",
                )
            finally:
                prober.stop()
        finally:
            context.close()
            console.stop()


def test_the_pod_is_hardened_as_it_runs(real_env: Env, running: list[str]) -> None:
    name = running[0]
    status = exec_in(real_env, name, "cat", "/proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[:2] == ["1000", "1000"]
    assert int(fields["CapEff"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert exec_in(real_env, name, "touch", "/cps1-root-write", check=False).returncode != 0
    assert exec_in(real_env, name, "touch", "/home/coder/.cps1-home-write").returncode == 0
    tokens = exec_in(real_env, name, "ls", "/var/run/secrets/kubernetes.io/serviceaccount", check=False)
    assert tokens.returncode != 0


def test_ssh_through_the_gateway_into_the_workspace_sshd(ssh: dict, real_env: Env, running: list[str]) -> None:
    name = running[0]  # alice's (tests/support/workspaces.py creates them for alice)
    done = run_ssh(ssh, name, "echo hello from $(hostname) as $(id -un); exit 7")
    assert done.returncode == 7, done.stderr
    assert f"hello from {pod_of(real_env, name)['metadata']['name']} as coder" in done.stdout

    payload = ssh["dir"] / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    copied = run_ssh(ssh, name, str(payload), f"{name}@127.0.0.1:payload.bin", program="scp")
    assert copied.returncode == 0, copied.stderr
    assert run_ssh(ssh, name, "sha256sum payload.bin").stdout.split()[0] == digest

    batch = ssh["dir"] / "sftp.batch"
    back = ssh["dir"] / "back.bin"
    batch.write_text(f"get payload.bin {back}\n")
    fetched = run_ssh(ssh, name, "-b", str(batch), f"{name}@127.0.0.1", program="sftp")
    assert fetched.returncode == 0, fetched.stderr
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest

    # VS Code Remote-SSH's shape: a stdio forward (-W) to a port inside the Workspace; the
    # Workspace's own sshd answers with its banner.
    with ssh_process(ssh, name, "-W", "127.0.0.1:2222", stdin=subprocess.PIPE, stdout=subprocess.PIPE) as forward:
        assert forward.stdout is not None
        assert forward.stdout.readline().startswith(b"SSH-2.0-OpenSSH")
        forward.kill()

    # -L: the IDE through a local port, as a developer without the ingress would open it.
    local = free_port()
    with ssh_process(ssh, name, "-N", "-L", f"127.0.0.1:{local}:127.0.0.1:8080", stdin=subprocess.DEVNULL) as tunnel:
        try:
            health = wait_until(lambda: _get(f"http://127.0.0.1:{local}/healthz"), 30, what="the IDE through -L")
            assert health.json()["status"] in ("alive", "expired")
        finally:
            tunnel.kill()


def test_home_survives_a_stop_and_a_start(ssh: dict, real_env: Env, running: list[str]) -> None:
    name = running[1]
    written = run_ssh(ssh, name, "head -c 65536 /dev/urandom > keep.bin && sha256sum keep.bin")
    assert written.returncode == 0, written.stderr
    digest = written.stdout.split()[0]
    pvc = found(ws.child(real_env, name, "v1", "PersistentVolumeClaim", "home"))["metadata"]["uid"]
    pod_before = pod_of(real_env, name)["metadata"]["uid"]
    ws.patch(real_env, name, {"spec": {"running": False}})
    ws.wait_phase(real_env, name, crd.PHASE_STOPPED, timeout=START_SECONDS)
    ws.patch(real_env, name, {"spec": {"running": True}})
    ws.wait_phase(real_env, name, crd.PHASE_RUNNING, timeout=START_SECONDS)
    assert pod_of(real_env, name)["metadata"]["uid"] != pod_before
    assert found(ws.child(real_env, name, "v1", "PersistentVolumeClaim", "home"))["metadata"]["uid"] == pvc
    assert run_ssh(ssh, name, "sha256sum keep.bin").stdout.split()[0] == digest


@pytest.mark.parametrize("on_delete", ["Retain", "Delete"])
def test_deleting_keeps_or_removes_the_home_and_its_data(ssh: dict, real_env: Env, on_delete: str) -> None:
    """`storage.onDelete: Retain` leaves the namespace, the claim, the volume and the bytes on
    the node's disk; `Delete` removes all of them."""
    name = f"real-{on_delete.lower()}"
    ws.workspace(real_env, name, "python", storage={"onDelete": on_delete})
    try:
        ws.wait_phase(real_env, name, crd.PHASE_RUNNING, timeout=START_SECONDS)
        written = run_ssh(ssh, name, "head -c 65536 /dev/urandom > keep.bin && sha256sum keep.bin")
        assert written.returncode == 0, written.stderr
        digest = written.stdout.split()[0]
        claim = found(ws.child(real_env, name, "v1", "PersistentVolumeClaim", "home"))
        volume = found(kube.get(real_env.client, "v1", "PersistentVolume", claim["spec"]["volumeName"]))
        on_disk = Path(volume["spec"]["local"]["path"]) / "keep.bin"
        assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == digest
    finally:
        ws.delete(real_env, name)
    wait_until(lambda: not ws.get(real_env, name), 180, what=f"workspace {name} gone")
    if on_delete == "Retain":
        wait_until(lambda: not pod_list(real_env, name), 120, what="the retained Workspace's pod gone")
        kept = found(ws.child(real_env, name, "v1", "PersistentVolumeClaim", "home"))
        assert kept is not None and kept["metadata"]["uid"] == claim["metadata"]["uid"]
        pv = found(kube.get(real_env.client, "v1", "PersistentVolume", volume["metadata"]["name"]))
        assert pv["status"]["phase"] == "Bound"
        assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == digest
        # What an admin does to let the name be used again (the README says so).
        kube.resource(real_env.client, "v1", "Namespace").delete(name=f"ws-{name}")
    wait_until(lambda: ws.child(real_env, name, "v1", "Namespace", f"ws-{name}") is None, 180, what="namespace gone")
    wait_until(
        lambda: kube.get(real_env.client, "v1", "PersistentVolume", volume["metadata"]["name"]) is None,
        120,
        what="the volume released and removed",
    )
    wait_until(lambda: not on_disk.parent.exists(), 60, what="the volume's directory removed")


def pod_list(env: Env, name: str) -> list[dict]:
    return kube.resource(env.client, "v1", "Pod").get(namespace=f"ws-{name}").to_dict()["items"]


def test_one_workspace_cannot_reach_another(real_env: Env, running: list[str]) -> None:
    """The Workspace NetworkPolicy, enforced by the node's firewall: B's sshd and IDE are closed
    to A (the gateway, on the node, reaches them: the SSH test above)."""
    target = pod_of(real_env, running[2])["status"]["podIP"]
    for port in (2222, 8080):
        dial = f"timeout 5 bash -c '</dev/tcp/{target}/{port}'"
        assert exec_in(real_env, running[0], "bash", "-c", dial, check=False).returncode != 0, port
    # The same dial to its own IDE works, so the refusal above is the policy, not the tool.
    own = pod_of(real_env, running[0])["status"]["podIP"]
    assert exec_in(real_env, running[0], "bash", "-c", f"timeout 5 bash -c '</dev/tcp/{own}/8080'").returncode == 0


def test_workspace_images_are_on_the_node_and_never_pulled(real_env: Env, running: list[str]) -> None:
    for name in running:
        container = pod_of(real_env, name)["spec"]["containers"][0]
        assert container["imagePullPolicy"] in ("IfNotPresent", "Never")
    events = kube.resource(real_env.client, "v1", "Event").get().to_dict()["items"]
    assert not [e for e in events if e.get("reason") == "Pulling" and e["metadata"]["namespace"].startswith("ws-real-")]


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
