"""CPS1 installed by its own Helm chart on the local cluster's real node: every component a pod.

What the chart needs from the cluster, and how the local cluster provides it:
- its images, without a registry: built here (images.py) and imported into the node's
  containerd under the names the chart defaults to; `pullPolicy: Never`;
- the Kubernetes API from pods: the `kubernetes` Service's EndpointSlice names a relay on the
  node address (apiserver_relay.py), since the API server listens on loopback only;
- cluster DNS (Metacontroller calls the hooks by Service name): CoreDNS, the stock command
  built from the Go module proxy (build.sh coredns), as a scratch-image pod in kube-system
  labelled k8s-app=kube-dns (the name the hooks' Workspace NetworkPolicies allow);
- Metacontroller: the chart's own (the cluster is started without its host process);
- ingress: the local Caddy controller (ingress.py) serves the chart's Ingress (class cps1).
Pure functions build the manifests and values; `install` does the I/O.
"""

import base64
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from cps1.localcluster import images, node
from cps1.localcluster.cluster import LocalCluster, binaries
from cps1.localcluster.processes import Process, free_port

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cps1"
RELEASE = "cps1"
NAMESPACE = "cps1-system"
DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns", "app.kubernetes.io/name": "coredns"}
# 53 in the pod too: a NetworkPolicy's port is the pod's (the Workspaces' allows DNS on 53 only).
# A non-root process binds it through the namespaced sysctl ip_unprivileged_port_start (safe,
# allowed by the kubelet by default), so no capability is needed.
DNS_PORT = 53
WORKSPACE_IMAGES = ("workspace-python",)
COREFILE = """\
.:{port} {{
    errors
    health :8080
    ready :8181
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loop
    reload
}}
"""


def kubernetes_endpointslice(address: str, port: int) -> dict:
    """The `kubernetes` Service's endpoints (the API server runs with no endpoint reconciler)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "cps1-localcluster",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def coredns_manifests(image: str) -> list[dict]:
    """CoreDNS for the cluster domain only (no upstream: pods have no route off the machine),
    under the restricted profile, reading Services and EndpointSlices."""
    name, ns = "coredns", DNS_NAMESPACE
    meta = {"name": name, "namespace": ns, "labels": DNS_LABELS}
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cps1:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["services", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "cps1:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cps1:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"Corefile": COREFILE.format(port=DNS_PORT, domain=node.CLUSTER_DOMAIN)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": DNS_LABELS},
                "template": {
                    "metadata": {"labels": DNS_LABELS},
                    "spec": {
                        "serviceAccountName": name,
                        "dnsPolicy": "Default",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": str(DNS_PORT)}],
                        },
                        "containers": [
                            {
                                "name": name,
                                "image": image,
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": DNS_PORT, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": DNS_PORT, "protocol": "TCP"},
                                ],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                                "securityContext": security,
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": name}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {**meta, "name": "kube-dns"},
            "spec": {
                "clusterIP": node.DNS_SERVICE_IP,
                "selector": DNS_LABELS,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": DNS_PORT, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": DNS_PORT, "protocol": "TCP"},
                ],
            },
        },
    ]


def chart_values(*, ingress_port: int, gateway_node_port: int) -> dict:
    """The chart's values on this cluster: images imported (never pulled), the local ingress
    class on *.localhost, the gateway on a NodePort of the node address."""
    return {
        "image": {"pullPolicy": "Never"},
        "metacontroller": {"image": {"pullPolicy": "Never"}},
        "ingress": {"enabled": True, "className": "cps1", "host": "cps1.localhost"},
        "workspaces": {"ideDomain": "localhost", "idePort": ingress_port},
        "gateway": {
            "host": node.NODE_IP,
            "service": {"type": "NodePort", "port": 22, "nodePort": gateway_node_port},
        },
        "networkPolicies": {"enabled": True},
    }


@dataclass
class Installed:
    """What `install` made, and how long its steps took."""

    values: dict
    relay: Process
    seconds: dict[str, float]


def helm_path() -> Path:
    return binaries(("helm",))["helm"] / "helm"


def helm(cluster: LocalCluster, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    exe = helm_path()
    env = {"KUBECONFIG": str(cluster.kubeconfig), "HOME": str(cluster.run_dir / "home"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def import_images(cluster: LocalCluster, names: tuple[str, ...]) -> None:
    for built in images.ensure(names):
        node.import_image(cluster, built.archive)
    node.import_image(cluster, binaries(("coredns",))["coredns"] / "coredns.tar")


def start_relay(cluster: LocalCluster) -> Process:
    """The API server relay on the node address, and the `kubernetes` endpoints naming it."""
    import kubeclient as kube

    port = free_port()
    relay = Process(
        "apiserver-relay",
        [
            sys.executable,
            "-m",
            "cps1.localcluster.apiserver_relay",
            node.NODE_IP,
            str(port),
            str(cluster.ports["apiserver"]),
        ],
        cluster.run_dir / "logs" / "apiserver-relay.log",
        {"PYTHONPATH": str(ROOT)},
        lambda: b"listening" in (cluster.run_dir / "logs" / "apiserver-relay.log").read_bytes(),
    )
    cluster.launch(relay)
    with kube.connected(cluster.kubeconfig) as client:
        kube.apply(client, kubernetes_endpointslice(node.NODE_IP, port))
    return relay


def pods_ready(client, namespace: str) -> bool:
    """Every pod of the namespace Ready (Jobs' pods: Succeeded), and at least one pod."""
    import kubeclient as kube

    pods = kube.resource(client, "v1", "Pod").get(namespace=namespace).to_dict()["items"]
    return bool(pods) and all(pod_ready(p) for p in pods)


def pod_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])


def install(cluster: LocalCluster, *, ingress_port: int, gateway_node_port: int = 30022) -> Installed:
    """Relay, CoreDNS, images, then `helm install`; returns once every CPS1 pod is Ready."""
    import kubeclient as kube

    seconds: dict[str, float] = {}
    start = time.monotonic()
    import_images(cluster, ("cps1", "metacontroller", *WORKSPACE_IMAGES))
    seconds["images imported"] = time.monotonic() - start
    relay = start_relay(cluster)
    coredns = (binaries(("coredns",))["coredns"] / "coredns.ref").read_text().strip()
    with kube.connected(cluster.kubeconfig) as client:
        for doc in coredns_manifests(coredns):
            kube.apply(client, doc)
        kube.wait_for(lambda: pods_ready(client, DNS_NAMESPACE), cluster.timeout, "CoreDNS did not become Ready")
        values = chart_values(ingress_port=ingress_port, gateway_node_port=gateway_node_port)
        values_file = cluster.run_dir / "cps1-values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        start = time.monotonic()
        out = helm(
            cluster,
            *("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace"),
            *("-f", str(values_file), "--wait", "--timeout", "10m"),
        )
        if out.returncode != 0:
            raise RuntimeError(f"helm install failed: {out.stderr}\n{describe(cluster)}")
        kube.wait_for(lambda: pods_ready(client, NAMESPACE), 600, f"CPS1 pods not Ready:\n{describe(cluster)}")
    seconds["helm install to every CPS1 pod Ready"] = time.monotonic() - start
    return Installed(values, relay, seconds)


def addresses(cluster: LocalCluster) -> dict[str, str]:
    """How to reach the release from this machine: the api Service, the gateway's NodePort on
    the node address, and the first admin's token from the chart's Secret."""
    import kubeclient as kube

    with kube.connected(cluster.kubeconfig) as client:
        api, gateway, secret = (
            kube.get(client, "v1", kind, f"{RELEASE}-{name}", NAMESPACE)
            for kind, name in (("Service", "api"), ("Service", "gateway"), ("Secret", "bootstrap"))
        )
    if api is None or gateway is None or secret is None:
        raise RuntimeError(f"the {RELEASE} release is not installed in {NAMESPACE} (no api or gateway Service)")
    return {
        "api": f"http://{api['spec']['clusterIP']}:8080",
        "ssh": f"{node.NODE_IP}:{gateway['spec']['ports'][0]['nodePort']}",
        "token": base64.b64decode(secret["data"]["token"]).decode(),
    }


def describe(cluster: LocalCluster) -> str:
    """Pods of the release with their phase and waiting reasons, for failure messages."""
    import kubeclient as kube

    with kube.connected(cluster.kubeconfig) as client:
        pods = kube.resource(client, "v1", "Pod").get(namespace=NAMESPACE).to_dict()["items"]
    lines = []
    for pod in pods:
        states = [c.get("state") for c in (pod.get("status") or {}).get("containerStatuses") or []]
        lines.append(f"{pod['metadata']['name']}: {pod['status'].get('phase')} {json.dumps(states)[:300]}")
    return "\n".join(lines)


def pod_memory(cluster: LocalCluster, namespace: str = NAMESPACE) -> dict[str, int]:
    """Working-set bytes of each pod of `namespace`, from the kubelet's summary (through the API)."""
    kubectl = binaries(("kubernetes",))["kubernetes"] / "kubectl"
    raw = subprocess.run(
        [
            str(kubectl),
            f"--kubeconfig={cluster.kubeconfig}",
            "get",
            "--raw",
            f"/api/v1/nodes/{node.NAME}/proxy/stats/summary",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    pods = json.loads(raw)["pods"]
    return {p["podRef"]["name"]: p["memory"]["workingSetBytes"] for p in pods if p["podRef"]["namespace"] == namespace}
