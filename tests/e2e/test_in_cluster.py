"""CPS1 installed in-cluster by its own Helm chart on the real node (the real tier): every
component a pod under the chart's securityContext, RBAC and NetworkPolicies, with the images
built here, CoreDNS, and the Kubernetes API reached from pods through the `kubernetes` Service.
Nothing runs outside the chart but the control plane, the node and the local ingress
controller. Needs the real node (one per machine: NodeBusy while another run holds it).

Measured numbers (install time, idle memory) go to ARTIFACTS/in-cluster.json."""

import base64
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import Browser, expect

import kubeclient as kube
from apiclient.client import http_session
from common import crd, timefmt
from cps1.localcluster import images, incluster, ingress, node
from cps1.localcluster.cluster import LocalCluster, binaries
from gateway import keys
from tests.conftest import ROOT
from tests.e2e import console_support
from tests.support import gateway as gs
from tests.support.cluster import ARTIFACTS, RUNNING, found, wait_until

NS = incluster.NAMESPACE
COMPONENTS = {"hooks", "api", "ide-prober", "console", "gateway"}


class Release:
    def __init__(self, cluster: LocalCluster, installed: incluster.Installed, ing: ingress.Ingress) -> None:
        self.cluster = cluster
        self.installed = installed
        self.ingress = ing
        self.client = kube.dynamic_client(cluster.kubeconfig)

    def pods(self, component: str | None = None) -> list[dict]:
        selector = f"app.kubernetes.io/component={component}" if component else None
        pods = kube.resource(self.client, "v1", "Pod").get(namespace=NS, label_selector=selector)
        return pods.to_dict()["items"]

    def running_pod(self, component: str) -> dict:
        return next(p for p in self.pods(component) if p["status"].get("phase") == "Running")

    def exec(self, pod: dict, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = [str(kubectl()), f"--kubeconfig={self.cluster.kubeconfig}", "-n", NS, "exec", pod["metadata"]["name"]]
        return subprocess.run([*argv, "--", *command], capture_output=True, text=True, timeout=timeout, check=False)

    def record(self, key: str, value: object) -> None:
        path = ARTIFACTS / "in-cluster.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**data, key: value}, indent=2))


@cache
def kubectl() -> Path:
    return binaries(("kubernetes",))["kubernetes"] / "kubectl"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    run_dir = tmp_path_factory.mktemp("incluster")
    with LocalCluster(run_dir, nodes=1, real_node=True, metacontroller=False, timeout=180) as cluster:
        RUNNING.append(cluster)
        ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
        installed = incluster.install(cluster, ingress_port=ing.port)
        yield Release(cluster, installed, ing)
        RUNNING.remove(cluster)


def test_every_cps1_pod_is_ready_under_the_charts_security_context(release: Release) -> None:
    pods = release.pods()
    components = {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in pods}
    assert components >= COMPONENTS, components
    assert any(p["metadata"]["labels"].get("app.kubernetes.io/name") == "metacontroller" for p in pods)
    for pod in pods:
        assert incluster.pod_ready(pod), (pod["metadata"]["name"], pod["status"])
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, pod["metadata"]["name"]
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["imagePullPolicy"] == "Never"
    release.record("install_seconds", {k: round(v, 1) for k, v in release.installed.seconds.items()})


def test_pods_reach_the_kubernetes_api_and_resolve_service_names(release: Release) -> None:
    """Metacontroller (a pod) is Ready only after it reached the API; the API pod resolves the
    hooks' Service name through CoreDNS and reads Workspaces through 10.96.0.1."""
    code = (
        "import socket; from kubernetes import client, config; config.load_incluster_config();"
        "print(socket.gethostbyname('cps1-hooks.cps1-system.svc.cluster.local'));"
        "print(len(client.CustomObjectsApi().list_cluster_custom_object('cps1.io','v1alpha1','workspaces')['items']))"
    )
    out = release.exec(release.running_pod("api"), "python", "-c", code)
    assert out.returncode == 0, out.stderr
    address, count = out.stdout.split()
    hooks = found(kube.get(release.client, "v1", "Service", "cps1-hooks", NS))
    assert address == hooks["spec"]["clusterIP"] and count.isdigit()


def test_helm_test_passes(release: Release) -> None:
    out = incluster.helm(release.cluster, "test", incluster.RELEASE, "--namespace", NS, "--timeout", "5m")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Phase:          Succeeded" in out.stdout


PROBE = (
    "import socket,sys; s=socket.socket(); s.settimeout(3); s.connect((sys.argv[1], int(sys.argv[2]))); print('open')"
)


def test_network_policy_keeps_the_console_from_the_hooks(release: Release) -> None:
    console = release.running_pod("console")
    hooks_ip = release.running_pod("hooks")["status"]["podIP"]
    api_ip = release.running_pod("api")["status"]["podIP"]
    allowed = release.exec(console, "python", "-c", PROBE, api_ip, "8080")
    assert allowed.returncode == 0 and "open" in allowed.stdout, allowed.stderr  # the probe works
    # The hooks listen (this machine, the node, may reach every pod: probes) ...
    assert requests.get(f"http://{hooks_ip}:8080/healthz", timeout=10).status_code == 200
    # ... but not for the console: kube-router rejects (ICMP port unreachable) what no policy allows.
    denied = release.exec(console, "python", "-c", PROBE, hooks_ip, "8080")
    assert denied.returncode != 0 and "Connection refused" in denied.stderr, denied.stdout + denied.stderr


LIST_SECRETS = (
    "from kubernetes import client, config; from kubernetes.client.exceptions import ApiException;"
    "config.load_incluster_config()\n"
    "try:\n  client.CoreV1Api().list_namespaced_secret('cps1-system'); print('allowed')\n"
    "except ApiException as e:\n  print(e.status)"
)
LIST_NODES = LIST_SECRETS.replace("list_namespaced_secret('cps1-system')", "list_node()")


@pytest.mark.parametrize(
    ("component", "code", "expected"),
    [
        ("gateway", LIST_SECRETS, "403"),
        ("gateway", LIST_NODES, "403"),
        ("api", LIST_NODES, "403"),
        ("api", LIST_SECRETS, "allowed"),
    ],
    ids=["gateway-secrets", "gateway-nodes", "api-nodes", "api-secrets-in-its-namespace"],
)
def test_service_accounts_have_least_privilege(release: Release, component: str, code: str, expected: str) -> None:
    out = release.exec(release.running_pod(component), "python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_idle_memory_is_recorded(release: Release) -> None:
    memory = wait_until(lambda: incluster.pod_memory(release.cluster), 60, 2, "the kubelet's pod stats")
    assert set(memory) >= {p["metadata"]["name"] for p in release.pods() if p["status"]["phase"] == "Running"}
    mib = {name: round(value / 2**20, 1) for name, value in sorted(memory.items())}
    release.record("idle_memory_mib", {"pods": mib, "total": round(sum(mib.values()), 1)})


class Api:
    """The installed API as a user reaches it: through the ingress (Host cps1.localhost)."""

    def __init__(self, release: Release) -> None:
        self.base = f"http://127.0.0.1:{release.ingress.port}/api/v1"
        token = incluster.addresses(release.cluster)["token"]
        self.headers = {"Host": "cps1.localhost", "Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        # The CLI's session: a GET the reloading ingress dropped is sent once more.
        with http_session() as session:
            return session.request(method, self.base + path, json=body, headers=self.headers, timeout=30)

    def phase(self, name: str) -> str:
        answer = self.call("GET", f"/workspaces/{name}")
        return str(answer.json()["phase"]) if answer.ok else str(answer.status_code)


@pytest.fixture(scope="module")
def python_template(release: Release) -> dict:
    """The example python template, made by the admin through the API behind the ingress."""
    spec = yaml.safe_load((ROOT / "examples" / "templates" / "python.yaml").read_text())["spec"]
    made = Api(release).call("POST", "/templates", {"name": "python", "spec": spec})
    assert made.status_code in (200, 201), made.text
    return dict(spec)


def test_the_journey_through_the_installed_release(
    release: Release, python_template: dict, chromium: Browser, tmp_path: Path
) -> None:
    """A developer's whole path through the installed release only: headless Chromium signs in
    to the console through the ingress (http://cps1.localhost:<port>/), creates a Workspace from
    the form of a template with parameters, waits for Running, opens the IDE link (code-server's
    workbench, screenshot kept), adds an SSH key in the console; the real OpenSSH client goes
    through the chart's gateway Service (its NodePort) into the Workspace's sshd; stop, start
    and delete from the console. The admin's setup (template, user, token) goes through the API
    behind the same ingress."""
    assert python_template["parameters"], "the journey needs a template with parameters"
    api = Api(release)
    assert api.call("POST", "/users", {"name": "dana"}).status_code in (200, 201)
    issued = api.call("POST", "/users/dana/tokens", {"name": "journey"})
    assert issued.status_code in (200, 201), issued.text
    name = "ic-journey"
    shots = ARTIFACTS / "in-cluster"
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"http://cps1.localhost:{release.ingress.port}/")
        console_support.sign_in(page, issued.json()["token"])
        page.get_by_role("link", name="New workspace", exact=True).click()
        page.get_by_label("Template", exact=True).click()
        page.get_by_role("option", name=re.compile(r"\(python\)$")).click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Memory", exact=True).fill("1Gi")
        page.screenshot(path=str(shots / "01-create-form.png"), full_page=True)
        start = time.monotonic()
        page.get_by_role("button", name="Create workspace").click()
        expect(page.get_by_text(f"{name} is running.")).to_be_visible(timeout=600_000)
        page.get_by_role("link", name="See it in My workspaces").click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        workspace = found(kube.get(release.client, crd.API_VERSION, "Workspace", name))
        assert workspace["spec"]["owner"] == "dana"
        assert workspace["spec"]["parameters"]["memory"] == "1Gi"

        password = console_support.reveal_ide_password(page)
        link = page.get_by_role("link", name="Open IDE")
        expect(link).to_have_attribute("href", workspace["status"]["ideURL"])
        with context.expect_page() as opened:
            link.click()
        ide = opened.value
        ide.set_default_timeout(120_000)
        console_support.sign_in_to_code_server(ide, password)
        release.record("create_to_ide_ready_seconds", round(time.monotonic() - start, 1))
        ide.screenshot(path=str(shots / "02-ide-workbench.png"))
        ide.close()

        key = gs.client_key(tmp_path, "dana")
        page.get_by_role("link", name="SSH keys", exact=True).click()
        page.get_by_label("Public key", exact=True).fill(key.public)
        page.get_by_role("button", name="Add key").click()
        expect(page.get_by_text("Added the key.")).to_be_visible()
        assert _ssh(release, tmp_path, key, name, "echo hello from $(hostname); exit 7").returncode == 7

        page.get_by_role("link", name="My workspaces", exact=True).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        page.get_by_role("button", name="Stop").click()
        expect(page.locator(".stMarkdownBadge")).to_have_text("Stopped", timeout=300_000)
        page.get_by_role("button", name="Start").click()
        expect(page.locator(".stMarkdownBadge")).to_have_text("Running", timeout=600_000)
        page.get_by_role("button", name="Delete").click()
        page.get_by_role("button", name=f"Yes, delete {name}").click()
        wait_until(lambda: api.phase(name) == "404", 300, 2, f"{name} gone")
        expect(page.get_by_text("You have no workspaces yet.")).to_be_visible()
        page.screenshot(path=str(shots / "03-deleted.png"), full_page=True)
    finally:
        context.close()


def _ssh_argv(release: Release, tmp_path: Path, key: gs.ClientKey, name: str) -> list[str]:
    """The real OpenSSH client through the chart's gateway NodePort, the host key pinned from
    the chart's Secret."""
    secret = found(kube.get(release.client, "v1", "Secret", f"{incluster.RELEASE}-gateway-host-key", NS))
    host = keys.public_line(keys.load_private_key(base64.b64decode(secret["data"][keys.HOST_KEY]).decode()))
    address, port = incluster.addresses(release.cluster)["ssh"].split(":")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{address}]:{port} {host}\n")
    return [*gs.openssh("ssh", key.path, known), "-p", port, f"{name}@{address}"]


def _ssh(release: Release, tmp_path: Path, key: gs.ClientKey, name: str, command: str) -> subprocess.CompletedProcess:
    argv = [*_ssh_argv(release, tmp_path, key, name), command]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode != 255, done.stderr
    return done


def _workspace_pod(release: Release, name: str) -> dict:
    pods = kube.resource(release.client, "v1", "Pod").get(namespace=f"ws-{name}").to_dict()["items"]
    return next(p for p in pods if not p["metadata"].get("deletionTimestamp"))


class OpenSession:
    """An interactive SSH session kept open through the gateway Service while something
    happens: it prints a tick every 0.2 s, and when the gateway closes it (its pod drains), it
    reconnects at once, as VS Code Remote-SSH does. The longest silence is the outage a user
    sees; `sessions` counts the connections it took."""

    TICKS = "while :; do echo tick; sleep 0.2; done"

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.ticks: list[float] = []
        self.sessions = 0
        self.done = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "OpenSession":
        self.thread.start()
        wait_until(lambda: len(self.ticks) >= 5, 120, 0.5, "the open SSH session ticking")
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.proc is not None:
            self.proc.kill()
        self.thread.join(30)

    def _run(self) -> None:
        while not self.done.is_set():
            argv = [*self.argv, self.TICKS]
            with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True) as self.proc:
                self.sessions += 1
                assert self.proc.stdout is not None
                for _ in self.proc.stdout:
                    self.ticks.append(time.monotonic())
            self.done.wait(0.2)

    def longest_silence(self, since: float) -> float:
        ticks = [t for t in self.ticks if t >= since] + [time.monotonic()]
        return max(b - a for a, b in zip([since, *ticks], ticks, strict=False))


def test_upgrade_rolls_cps1_pods_and_leaves_workspaces_running(
    release: Release, python_template: dict, tmp_path: Path
) -> None:
    """`helm upgrade` to a new services image tag: every CPS1 pod is replaced, the Workspace
    pod is not restarted, and an SSH session open through the gateway during the upgrade is
    interrupted no longer than a gateway pod's own restart (both measured)."""
    api = Api(release)
    name = "ic-upgrade"
    created = api.call("POST", "/workspaces", {"name": name, "template": "python"})
    assert created.status_code in (200, 201), created.text
    key = gs.client_key(tmp_path, "admin")
    assert api.call("POST", "/me/keys", {"key": key.public, "name": "upgrade"}).status_code in (200, 201)
    wait_until(lambda: api.phase(name) == crd.PHASE_RUNNING, 600, 2, f"{name} Running")
    before = _workspace_pod(release, name)
    old_pods = {p["metadata"]["uid"] for p in release.pods()}
    repository = images.SERVICES_REPOSITORY
    node.tag_image(release.cluster, f"{repository}:0.1.0", f"{repository}:0.1.0-upgrade")
    with OpenSession(_ssh_argv(release, tmp_path, key, name)) as session:
        start = time.monotonic()
        out = incluster.helm(
            release.cluster,
            *("upgrade", incluster.RELEASE, str(incluster.CHART), "--namespace", NS, "--reuse-values"),
            *("--set", "image.tag=0.1.0-upgrade", "--wait", "--timeout", "10m"),
        )
        assert out.returncode == 0, out.stderr
        wait_until(lambda: incluster.pods_ready(release.client, NS), 300, 2, "CPS1 pods Ready after the upgrade")
        upgraded = time.monotonic()
        # The old gateway pods drain their sessions before they go: wait until they are gone.
        wait_until(
            lambda: not [p for p in release.pods("gateway") if p["metadata"]["uid"] in old_pods],
            120,
            1,
            "the old gateway pods gone",
        )
        drained = time.monotonic()
        wait_until(lambda: session.ticks[-1] > drained, 120, 0.5, "the SSH session ticking after the drain")
        outage = session.longest_silence(start)
    release.record("upgrade_to_every_pod_ready_seconds", round(upgraded - start, 1))
    gateway_restart = max(_ready_seconds(p) for p in release.pods("gateway") if p["metadata"]["uid"] not in old_pods)
    release.record("upgrade_gateway_pod_start_to_ready_seconds", round(gateway_restart, 1))
    release.record("upgrade_ssh_session_outage_seconds", round(outage, 1))
    release.record("upgrade_ssh_sessions_used", session.sessions)
    assert session.sessions >= 2, "the session outlived its gateway pod: the drain was not measured"
    assert outage <= gateway_restart, (outage, gateway_restart)
    for pod in release.pods():
        live = pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
        if live and pod["metadata"]["labels"].get("app.kubernetes.io/name") == "cps1":
            assert pod["metadata"]["uid"] not in old_pods, pod["metadata"]["name"]
            assert all(c["image"].endswith(":0.1.0-upgrade") for c in pod["spec"]["containers"])
    after = _workspace_pod(release, name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    restarts = [c["restartCount"] for c in after["status"]["containerStatuses"]]
    assert restarts == [c["restartCount"] for c in before["status"]["containerStatuses"]]


def _ready_seconds(pod: dict) -> float:
    """From the pod's creation to its Ready condition, by the API server's clock."""
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready" and c["status"] == "True")
    created, became_ready = (
        timefmt.parse_time(t) for t in (pod["metadata"]["creationTimestamp"], ready["lastTransitionTime"])
    )
    assert created is not None and became_ready is not None, pod["status"]
    return (became_ready - created).total_seconds()


def test_network_policy_keeps_workspaces_from_the_api_and_the_hooks(release: Release) -> None:
    name = "ic-upgrade"  # Running since the upgrade test
    pod = _workspace_pod(release, name)["metadata"]["name"]
    argv = [str(kubectl()), f"--kubeconfig={release.cluster.kubeconfig}", "-n", f"ws-{name}", "exec", pod, "--"]

    def probe(address: str, port: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*argv, "python3", "-c", PROBE, address, port], capture_output=True, text=True, timeout=60
        )

    own_sshd = probe("127.0.0.1", "2222")  # the template's sshd port
    assert own_sshd.returncode == 0 and "open" in own_sshd.stdout, own_sshd.stderr  # the probe works
    for component in ("api", "hooks"):
        target = release.running_pod(component)["status"]["podIP"]
        denied = probe(target, "8080")
        assert denied.returncode != 0 and "open" not in denied.stdout, (component, denied.stdout, denied.stderr)


def test_uninstall_removes_the_release_and_keeps_workspaces_and_their_data(release: Release) -> None:
    name = "ic-upgrade"  # Running since the upgrade test
    pod = _workspace_pod(release, name)["metadata"]["name"]
    argv = [str(kubectl()), f"--kubeconfig={release.cluster.kubeconfig}", "-n", f"ws-{name}", "exec", pod, "--"]
    wrote = subprocess.run([*argv, "sh", "-c", "echo kept > /home/coder/kept.txt"], capture_output=True, text=True)
    assert wrote.returncode == 0, wrote.stderr
    out = incluster.helm(
        release.cluster, "uninstall", incluster.RELEASE, "--namespace", NS, "--wait", "--cascade", "foreground"
    )
    assert out.returncode == 0, out.stderr
    assert release.pods() == []  # a foreground cascade: helm returns once the pods are deleted
    assert kube.get(release.client, crd.API_VERSION, "Workspace", name) is not None
    assert kube.get(release.client, "v1", "PersistentVolumeClaim", "home", f"ws-{name}") is not None
    read = subprocess.run([*argv, "cat", "/home/coder/kept.txt"], capture_output=True, text=True)
    assert read.stdout.strip() == "kept", read.stderr
