"""`helm install` of the chart into a real (fresh) control plane: every object is accepted, the
CompositeController is wired to the hooks Service, this repository's hooks and api then serve
the installed resources, and `helm uninstall` leaves nothing behind but the CRDs (Helm keeps
CRDs by design, so Workspaces survive a reinstall). The images cannot run on kwok's simulated
nodes, so the services themselves run here as local processes."""

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubeclient as kube
from api.app import create_app
from api.settings import Settings
from api.store import Store
from cps1.localcluster import install
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.conftest import ROOT
from tests.support.cluster import found, wait_until

CHART = ROOT / "helm" / "cps1"
NAMESPACE = "cps1-system"
RELEASE = "cps1"


@pytest.fixture(scope="module")
def helm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, list[str]]]:
    with LocalCluster(tmp_path_factory.mktemp("helm")) as cluster:
        helm = [str(binaries(("helm",))["helm"] / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
        yield cluster, helm


def run(*argv: str) -> str:
    out = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def manifest_objects(helm: list[str]) -> list[dict]:
    text = run(*helm, "get", "manifest", RELEASE, "-n", NAMESPACE)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_install_serve_and_uninstall(helm_cluster: tuple[LocalCluster, list[str]], tmp_path: Path) -> None:
    cluster, helm = helm_cluster
    client = kube.dynamic_client(cluster.kubeconfig)
    values = ["--set", "gateway.service.type=NodePort", "--set", "ingress.host=cps1.test"]
    run(
        *helm,
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--wait",
        "--timeout",
        "3m",
        *values,
    )

    # Every object of the release is stored as rendered.
    objects = manifest_objects(helm)
    assert len(objects) > 30
    for obj in objects:
        namespace = None if obj["kind"].startswith("Cluster") or obj["kind"] == "CompositeController" else NAMESPACE
        stored = kube.get(client, obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace)
        assert stored is not None, f"{obj['kind']}/{obj['metadata']['name']}"
    for crd in ("workspaces.cps1.io", "workspacetemplates.cps1.io", "compositecontrollers.metacontroller.k8s.io"):
        assert kube.crd_established(client, crd)

    # The CompositeController calls the hooks Service, whose selector picks the hooks pods.
    controller = found(kube.get(client, "metacontroller.k8s.io/v1alpha1", "CompositeController", "cps1-workspaces"))
    service_ref = controller["spec"]["hooks"]["sync"]["webhook"]["service"]
    service = found(kube.get(client, "v1", "Service", service_ref["name"], service_ref["namespace"]))
    assert service_ref == {"name": "cps1-hooks", "namespace": NAMESPACE, "port": 8080}
    assert service["spec"]["ports"][0]["port"] == 8080
    pods = kube.resource(client, "v1", "Pod").get(namespace=NAMESPACE).to_dict()["items"]
    selected = [p for p in pods if service["spec"]["selector"].items() <= p["metadata"]["labels"].items()]
    assert len(selected) == 2  # hooks.replicas

    # This repository's hooks and api serve what the chart installed: its seed, its bootstrap token.
    secret = found(kube.get(client, "v1", "Secret", "cps1-seed", NAMESPACE))
    token_secret = found(kube.get(client, "v1", "Secret", "cps1-bootstrap", NAMESPACE))
    seed = base64.b64decode(secret["data"]["seed"]).decode()
    token = base64.b64decode(token_secret["data"]["token"]).decode()
    hooks, hooks_url = install.gunicorn_process(cluster.run_dir, {"CPS1_HOOKS_SECRET_SEED": seed})
    cluster.launch(hooks)
    install.install_controller(client, hooks_url)  # the chart's Service is not reachable from here
    api = create_app(
        Settings(system_namespace=NAMESPACE, bootstrap_admin="admin", bootstrap_token=token), Store(client, NAMESPACE)
    ).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    template = yaml.safe_load((ROOT / "examples" / "templates" / "go.yaml").read_text())
    assert (
        api.post("/api/v1/templates", json={"name": "go", "spec": template["spec"]}, headers=headers).status_code == 201
    )
    made = api.post("/api/v1/workspaces", json={"name": "helm-ws", "template": "go"}, headers=headers)
    assert made.status_code == 201, made.json
    wait_until(
        lambda: (api.get("/api/v1/workspaces/helm-ws", headers=headers).json or {}).get("phase") == "Running",
        90,
        what="a Workspace served by the installed release",
    )
    assert api.delete("/api/v1/workspaces/helm-ws", headers=headers).status_code == 204
    wait_until(lambda: kube.get(client, "cps1.io/v1alpha1", "Workspace", "helm-ws") is None, 90, what="deleted")

    # Uninstall: nothing of the release is left but the CRDs. With Helm's default (background)
    # cascade, `--wait` returns once the Deployments are gone while the garbage collector still
    # deletes their ReplicaSets' pods; a foreground cascade keeps each Deployment until they are.
    run(*helm, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--cascade", "foreground", "--timeout", "2m")
    for obj in objects:
        namespace = None if obj["kind"].startswith("Cluster") or obj["kind"] == "CompositeController" else NAMESPACE

        def gone(o: dict[str, Any] = obj, ns: str | None = namespace) -> bool:
            return kube.get(client, o["apiVersion"], o["kind"], o["metadata"]["name"], ns) is None

        wait_until(gone, 60, what=f"{obj['kind']}/{obj['metadata']['name']} removed")
    selector = f"app.kubernetes.io/instance={RELEASE}"
    for api_version, kind in (("v1", "Pod"), ("batch/v1", "Job"), ("v1", "ServiceAccount"), ("v1", "Secret")):
        left = kube.resource(client, api_version, kind).get(namespace=NAMESPACE, label_selector=selector).to_dict()
        assert left["items"] == [], f"{kind} left behind: {[o['metadata']['name'] for o in left['items']]}"
