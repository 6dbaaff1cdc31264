"""CPS1 installed in-cluster by its own Helm chart on the real node (the real tier): every
component a pod under the chart's securityContext, RBAC and NetworkPolicies, with the images
built here, CoreDNS, and the Kubernetes API reached from pods through the `kubernetes` Service.
Nothing runs outside the chart but the control plane, the node and the local ingress
controller. Needs the real node (one per machine: NodeBusy while another run holds it).

Measured numbers (install time, idle memory) go to ARTIFACTS/in-cluster.json."""

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import requests
import yaml

import kubeclient as kube
from common import crd
from cps1.localcluster import images, incluster, ingress, node
from cps1.localcluster.cluster import LocalCluster, binaries
from gateway import keys
from tests.conftest import ROOT
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
        return requests.request(method, self.base + path, json=body, headers=self.headers, timeout=30)

    def phase(self, name: str) -> str:
        answer = self.call("GET", f"/workspaces/{name}")
        return str(answer.json()["phase"]) if answer.ok else str(answer.status_code)


def test_the_journey_through_the_installed_release(release: Release, tmp_path: Path) -> None:
    """Template, key, Workspace through the API behind the ingress; Running on the real node
    (Metacontroller and the hooks as pods); the real OpenSSH client through the chart's gateway
    Service (its NodePort) into the Workspace's sshd; stop, start, delete."""
    api = Api(release)
    spec = yaml.safe_load((ROOT / "examples" / "templates" / "python.yaml").read_text())["spec"]
    made = api.call("POST", "/templates", {"name": "python", "spec": spec})
    assert made.status_code in (200, 201), made.text
    key = gs.client_key(tmp_path, "admin")
    added = api.call("POST", "/me/keys", {"key": key.public, "name": "journey"})
    assert added.status_code in (200, 201), added.text
    name = "ic-journey"
    created = api.call("POST", "/workspaces", {"name": name, "template": "python"})
    assert created.status_code in (200, 201), created.text
    start = time.monotonic()
    wait_until(lambda: api.phase(name) == crd.PHASE_RUNNING, 600, 2, f"{name} Running")
    release.record("create_to_running_seconds", round(time.monotonic() - start, 1))

    secret = found(kube.get(release.client, "v1", "Secret", f"{incluster.RELEASE}-gateway-host-key", NS))
    host = keys.public_line(keys.load_private_key(base64.b64decode(secret["data"][keys.HOST_KEY]).decode()))
    ssh_at = incluster.addresses(release.cluster)["ssh"]
    address, port = ssh_at.split(":")
    known = tmp_path / "known_hosts"
    known.write_text(f"[{address}]:{port} {host}\n")
    argv = [*gs.openssh("ssh", key.path, known), "-p", port, f"{name}@{address}", "echo hello from $(hostname); exit 7"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 7, done.stderr
    assert "hello from workspace-" in done.stdout

    assert api.call("POST", f"/workspaces/{name}/stop").ok
    wait_until(lambda: api.phase(name) == crd.PHASE_STOPPED, 300, 2, f"{name} Stopped")
    assert api.call("POST", f"/workspaces/{name}/start").ok
    wait_until(lambda: api.phase(name) == crd.PHASE_RUNNING, 600, 2, f"{name} Running again")
    assert api.call("DELETE", f"/workspaces/{name}").status_code in (200, 202, 204)
    wait_until(lambda: api.phase(name) == "404", 300, 2, f"{name} gone")


def _workspace_pod(release: Release, name: str) -> dict:
    pods = kube.resource(release.client, "v1", "Pod").get(namespace=f"ws-{name}").to_dict()["items"]
    return next(p for p in pods if not p["metadata"].get("deletionTimestamp"))


def test_upgrade_rolls_cps1_pods_and_leaves_workspaces_running(release: Release, tmp_path: Path) -> None:
    """`helm upgrade` to a new services image tag: every CPS1 pod is replaced, the Workspace
    pod is not restarted, and SSH works again through the new gateway pods (time measured)."""
    api = Api(release)
    name = "ic-upgrade"
    assert api.call("POST", "/workspaces", {"name": name, "template": "python"}).status_code in (200, 201)
    wait_until(lambda: api.phase(name) == crd.PHASE_RUNNING, 600, 2, f"{name} Running")
    before = _workspace_pod(release, name)
    old_pods = {p["metadata"]["uid"] for p in release.pods()}
    repository = images.SERVICES_REPOSITORY
    node.tag_image(release.cluster, f"{repository}:0.1.0", f"{repository}:0.1.0-upgrade")
    start = time.monotonic()
    out = incluster.helm(
        release.cluster,
        *("upgrade", incluster.RELEASE, str(incluster.CHART), "--namespace", NS, "--reuse-values"),
        *("--set", "image.tag=0.1.0-upgrade", "--wait", "--timeout", "10m"),
    )
    assert out.returncode == 0, out.stderr
    wait_until(lambda: incluster.pods_ready(release.client, NS), 300, 2, "CPS1 pods Ready after the upgrade")
    release.record("upgrade_to_every_pod_ready_seconds", round(time.monotonic() - start, 1))
    for pod in release.pods():
        live = pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
        if live and pod["metadata"]["labels"].get("app.kubernetes.io/name") == "cps1":
            assert pod["metadata"]["uid"] not in old_pods, pod["metadata"]["name"]
            assert all(c["image"].endswith(":0.1.0-upgrade") for c in pod["spec"]["containers"])
    after = _workspace_pod(release, name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    restarts = [c["restartCount"] for c in after["status"]["containerStatuses"]]
    assert restarts == [c["restartCount"] for c in before["status"]["containerStatuses"]]


def test_uninstall_removes_the_release_and_keeps_workspaces_and_their_data(release: Release) -> None:
    name = "ic-upgrade"  # Running since the upgrade test
    pod = _workspace_pod(release, name)["metadata"]["name"]
    argv = [str(kubectl()), f"--kubeconfig={release.cluster.kubeconfig}", "-n", f"ws-{name}", "exec", pod, "--"]
    wrote = subprocess.run([*argv, "sh", "-c", "echo kept > /home/coder/kept.txt"], capture_output=True, text=True)
    assert wrote.returncode == 0, wrote.stderr
    out = incluster.helm(release.cluster, "uninstall", incluster.RELEASE, "--namespace", NS, "--wait")
    assert out.returncode == 0, out.stderr
    wait_until(lambda: not release.pods(), 300, 2, "the release's pods gone")
    assert kube.get(release.client, crd.API_VERSION, "Workspace", name) is not None
    assert kube.get(release.client, "v1", "PersistentVolumeClaim", "home", f"ws-{name}") is not None
    read = subprocess.run([*argv, "cat", "/home/coder/kept.txt"], capture_output=True, text=True)
    assert read.stdout.strip() == "kept", read.stderr
