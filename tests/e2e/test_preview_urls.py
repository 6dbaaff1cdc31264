"""Preview URLs on the real node, through the real ingress controller (Caddy, its forward_auth
asking the real API), opened in headless Chromium: `python3 -m http.server` in a Workspace
applied as YAML with `spec.ports` (the GitOps path: no API involved) gets its URL in status and
opens for its owner; another signed-in user gets it only at `authenticated`; a signed-out
browser only at `public`; the IDE is owner-only; an undeclared port has no route; opening the
port records activity (source `port`) and an audit line naming who opened it; the Workspace's
NetworkPolicy, enforced by the node's firewall, lets pods of the ingress controller's namespace
reach the declared port and nothing else of it, and other namespaces' pods not even that.
"""

import subprocess
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser

import kubeclient as kube
from common import crd
from cps1.dev import import_workspace_images
from cps1.localcluster import ingress
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.conftest import ROOT
from tests.e2e import preview_support as ps
from tests.support import workspaces as ws
from tests.support.cluster import Env, installed, wait_until
from tests.support.node import kubectl, probe, ready_pod, restricted_namespace

NAME, PORT = "pv-web", 3000
START_SECONDS = 300
# The hooks' default ingress controller namespace (CPS1_HOOKS_INGRESS_NAMESPACE_LABEL), and one
# the policy does not name.
INGRESS_NS, OTHER_NS = "ingress-nginx", "preview-outsider"


@pytest.fixture(scope="module")
def preview(real_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The ingress controller, the hooks with the API's forward-auth URL, the python example
    template, the API with previews on, and alice's and bob's clients."""
    import_workspace_images(real_cluster)
    ing = ingress.start(real_cluster, binaries(("caddy",))["caddy"])
    api, api_url = ps.api_process(real_cluster, tmp_path_factory.mktemp("preview"))
    hooks_env = {**ing.hooks_env(), "CPS1_HOOKS_FORWARD_AUTH_URL": f"{api_url}/preview/auth"}
    with installed(real_cluster, "preview-hook-requests", hooks_env) as env:
        kube.apply(env.client, yaml.safe_load((ROOT / "examples" / "templates" / "python.yaml").read_text()))
        with ps.running(api, api_url, env.client) as users:
            yield {"env": env, "ingress": ing, "api": api, "users": users, "url": ps.url_of(ing, NAME, PORT)}
    ing.stop()


def workspace_pod(env: Env) -> dict:
    pods = kube.resource(env.client, "v1", "Pod").get(namespace=f"ws-{NAME}").to_dict()["items"]
    return next(p for p in pods if not p["metadata"].get("deletionTimestamp"))


def share(preview: dict, level: str) -> None:
    preview["users"]["alice"].update_workspace(NAME, {"ports": [{"port": PORT, "name": "web", "share": level}]})


@pytest.fixture(scope="module")
def serving(preview: dict) -> Iterator[None]:
    """Workspace NAME applied as YAML with port 3000 shared `owner`, Running, with
    `python3 -m http.server 3000` started in it (kubectl exec, ended with the module)."""
    env: Env = preview["env"]
    ws.workspace(env, NAME, "python", ports=[{"port": PORT, "name": "web", "share": "owner"}])
    ws.wait_phase(env, NAME, crd.PHASE_RUNNING, timeout=START_SECONDS)
    exec_argv = ["exec", workspace_pod(env)["metadata"]["name"], "-c", "workspace", "--"]
    kubectl_bin = binaries(("kubernetes",))["kubernetes"] / "kubectl"
    server = subprocess.Popen(
        [
            *(str(kubectl_bin), f"--kubeconfig={env.cluster.kubeconfig}", "-n", f"ws-{NAME}", *exec_argv),
            *("python3", "-m", "http.server", str(PORT)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/')"
    try:
        wait_until(
            lambda: kubectl(env.cluster, f"ws-{NAME}", *exec_argv, "python3", "-c", probe, check=False).returncode == 0,
            timeout=60,
            what="http.server in the workspace",
        )
        yield
    finally:
        server.kill()
        server.wait()
        ws.delete(env, NAME)
        ws.wait_gone(env, NAME, timeout=180)


def test_gitops_yaml_with_ports_gets_its_url_and_opens_for_its_owner(
    preview: dict, serving: None, chromium: Browser
) -> None:
    env: Env = preview["env"]
    status = ws.status(env, NAME)
    assert status["ports"] == [{"port": PORT, "name": "web", "share": "owner", "url": preview["url"]}]
    code, body = ps.opens(chromium, preview["users"]["alice"], preview["url"])
    assert code == 200 and "Directory listing" in body

    def source() -> str:
        obj = kube.get(env.client, crd.API_VERSION, crd.WORKSPACE_KIND, NAME) or {}
        return ((obj.get("metadata") or {}).get("annotations") or {}).get(crd.ANNOTATION_LAST_ACTIVITY_SOURCE, "")

    wait_until(lambda: source() == "port", timeout=15, what="port activity on the workspace")
    assert any('"actor": "alice"' in line for line in ps.audit_lines(preview["api"], "open port"))


def test_share_levels(preview: dict, serving: None, chromium: Browser) -> None:
    bob, url = preview["users"]["bob"], preview["url"]
    assert ps.opens(chromium, bob, url)[0] == 404
    assert ps.anonymous(url).status_code == 302
    share(preview, "authenticated")
    wait_until(lambda: ps.opens(chromium, bob, url)[0] == 200, timeout=15, what="bob let in at authenticated")
    assert ps.anonymous(url).status_code == 302
    share(preview, "public")
    wait_until(lambda: ps.anonymous(url).status_code == 200, timeout=15, what="the port open to anyone")
    share(preview, "owner")
    wait_until(lambda: ps.anonymous(url).status_code == 302, timeout=15, what="the port back to owner-only")


def test_the_ide_is_owner_only_and_an_undeclared_port_unreachable(
    preview: dict, serving: None, chromium: Browser
) -> None:
    ide = ps.url_of(preview["ingress"], NAME, None)
    assert ps.anonymous(ide).status_code == 302
    assert ps.opens(chromium, preview["users"]["bob"], ide)[0] == 404
    assert ps.opens(chromium, preview["users"]["alice"], ide)[0] == 200  # code-server's own login page
    assert ps.anonymous(ps.url_of(preview["ingress"], NAME, 8000)).status_code == 404


def test_the_policy_admits_the_ingress_namespace_to_declared_ports_only(preview: dict, serving: None) -> None:
    """On the local node Caddy runs on the host, which the node's firewall lets reach pods, so
    pods stand in for a controller running in the cluster: one in the namespace the hooks' policy
    names reaches port 3000 (declared) but not sshd's 2222; one in another namespace neither."""
    env: Env = preview["env"]
    pod = workspace_pod(env)
    target = pod["status"]["podIP"]
    for namespace in (INGRESS_NS, OTHER_NS):
        restricted_namespace(env.client, namespace)
        ready_pod(env.client, "probe", {"app": "probe"}, namespace=namespace)
    try:
        assert probe(env.cluster, INGRESS_NS, "probe", f"{target}:{PORT}", "connect")
        assert not probe(env.cluster, INGRESS_NS, "probe", f"{target}:2222", "connect")
        assert not probe(env.cluster, OTHER_NS, "probe", f"{target}:{PORT}", "connect")
        # sshd listens (the gateway reaches it): the refusal above is the policy's.
        sshd = "import socket; socket.create_connection(('127.0.0.1', 2222), 5)"
        listening = kubectl(
            env.cluster,
            f"ws-{NAME}",
            "exec",
            pod["metadata"]["name"],
            "-c",
            "workspace",
            "--",
            "python3",
            "-c",
            sshd,
            check=False,
        )
        assert listening.returncode == 0, listening.stderr
    finally:
        for namespace in (INGRESS_NS, OTHER_NS):
            kube.resource(env.client, "v1", "Namespace").delete(name=namespace)
