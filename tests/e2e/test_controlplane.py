"""Smoke tests of the local control plane itself: the real components do their jobs."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

import kubeclient as kube
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.conftest import ROOT
from tests.support.cluster import Env, wait_until


@pytest.fixture(scope="module")
def client(cluster: LocalCluster):
    return kube.dynamic_client(cluster.kubeconfig)


def test_api_server_serves_the_pinned_version(cluster: LocalCluster) -> None:
    token = cluster.token
    ca = str(cluster.run_dir / "certs" / "apiserver.crt")
    version = requests.get(
        f"{cluster.server}/version", headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=5
    ).json()
    assert version["gitVersion"] == "v1.36.3"
    assert requests.get(f"{cluster.server}/readyz", verify=ca, timeout=5).text == "ok"


def test_deployment_gets_ready_pods_on_a_kwok_node(client) -> None:
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "smoke-deploy"}})
    kube.apply(
        client,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "smoke-deploy"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
    )
    wait_until(
        lambda: (
            (kube.get(client, "apps/v1", "Deployment", "web", "smoke-deploy") or {})
            .get("status", {})
            .get("readyReplicas")
            == 2
        ),
        what="2 ready replicas",
    )
    pods = kube.resource(client, "v1", "Pod").get(namespace="smoke-deploy").to_dict()["items"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-node-0", "kwok-node-1"}
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_deleting_a_namespace_removes_its_contents(client) -> None:
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "smoke-ns"}})
    kube.apply(client, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "smoke-ns"}})
    kube.apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "smoke-ns"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    wait_until(
        lambda: (kube.get(client, "v1", "Pod", "p", "smoke-ns") or {}).get("status", {}).get("phase") == "Running",
        what="pod running",
    )
    kube.resource(client, "v1", "Namespace").delete(name="smoke-ns")
    wait_until(lambda: kube.get(client, "v1", "Namespace", "smoke-ns") is None, timeout=90, what="namespace gone")


def test_child_of_a_cluster_scoped_custom_resource_is_garbage_collected(env: Env, client) -> None:
    owner = kube.apply(
        client,
        {
            "apiVersion": "cps1.io/v1alpha1",
            "kind": "WorkspaceTemplate",
            "metadata": {"name": "smoke-owner"},
            "spec": {"image": "x"},
        },
    )
    kube.apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "owned",
                "namespace": "default",
                "ownerReferences": [
                    {
                        "apiVersion": "cps1.io/v1alpha1",
                        "kind": "WorkspaceTemplate",
                        "name": "smoke-owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
        },
    )
    kube.resource(client, "cps1.io/v1alpha1", "WorkspaceTemplate").delete(name="smoke-owner")
    wait_until(
        lambda: kube.get(client, "v1", "ConfigMap", "owned", "default") is None, what="owned ConfigMap collected"
    )


class TrivialHook(BaseHTTPRequestHandler):
    """A sync hook that wants one ConfigMap per parent, carrying the parent's spec.message."""

    calls = 0

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        TrivialHook.calls += 1
        parent = request["parent"]
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": parent["metadata"]["name"], "namespace": "default"},
            "data": {"message": parent["spec"]["message"]},
        }
        body = json.dumps({"status": {"seen": True}, "children": [child]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


PROBE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "probes.smoke.cps1.io"},
    "spec": {
        "group": "smoke.cps1.io",
        "scope": "Cluster",
        "names": {"kind": "Probe", "plural": "probes", "singular": "probe", "listKind": "ProbeList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"message": {"type": "string"}}},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


def test_metacontroller_calls_a_hook_and_creates_its_child(client) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TrivialHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kube.apply(client, PROBE_CRD)
        wait_until(lambda: kube.crd_established(client, "probes.smoke.cps1.io"), what="probe CRD established")
        client.resources.invalidate_cache()
        kube.apply(
            client,
            {
                "apiVersion": "metacontroller.k8s.io/v1alpha1",
                "kind": "CompositeController",
                "metadata": {"name": "smoke-probes"},
                "spec": {
                    "generateSelector": True,
                    "parentResource": {"apiVersion": "smoke.cps1.io/v1", "resource": "probes"},
                    "childResources": [
                        {"apiVersion": "v1", "resource": "configmaps", "updateStrategy": {"method": "InPlace"}}
                    ],
                    "hooks": {"sync": {"webhook": {"url": f"http://127.0.0.1:{server.server_address[1]}/sync"}}},
                },
            },
        )
        kube.apply(
            client,
            {
                "apiVersion": "smoke.cps1.io/v1",
                "kind": "Probe",
                "metadata": {"name": "hello"},
                "spec": {"message": "hi from the hook"},
            },
        )
        made = wait_until(lambda: kube.get(client, "v1", "ConfigMap", "hello", "default"), what="the hook's ConfigMap")
        assert made["data"] == {"message": "hi from the hook"}
        assert made["metadata"]["ownerReferences"][0]["kind"] == "Probe"
        assert TrivialHook.calls >= 1
    finally:
        server.shutdown()
        server.server_close()


def test_metacontroller_is_the_release_the_chart_ships(cluster: LocalCluster) -> None:
    """The controller under test is the chart's v4.17.2, built from source with its version stamped."""
    chart = yaml.safe_load((ROOT / "helm" / "cps1" / "charts" / "metacontroller" / "Chart.yaml").read_text())
    log = (cluster.run_dir / "logs" / "metacontroller.log").read_text()
    assert chart["appVersion"] == "v4.17.2"
    assert f'"version": "{chart["appVersion"]}"' in log or f'"version":"{chart["appVersion"]}"' in log
    built = binaries(("metacontroller",))["metacontroller"] / "metacontroller-crds-v1.yaml"
    vendored = ROOT / "helm" / "cps1" / "charts" / "metacontroller" / "crds" / "metacontroller-crds.yaml"
    documents = [[d for d in yaml.safe_load_all(p.read_text()) if d] for p in (vendored, built)]
    assert documents[0] == documents[1], "run helm/sync-metacontroller-crds.sh"
