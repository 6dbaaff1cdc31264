"""Pods of our netcheck image (images/netcheck) for the real node's tests and benchmark."""

import subprocess

import kubeclient as kube
from cps1.localcluster import node
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.support.cluster import wait_until

NS = "node-e2e"
RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def restricted_namespace(client, namespace: str = NS) -> None:
    """`namespace`, where the restricted Pod Security level is enforced (so a pod that runs
    there passed it)."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})


def netcheck_pod(name: str, labels: dict[str, str], namespace: str = NS) -> dict:
    """A pod of our netcheck image serving TCP 8080, Ready when the port answers."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "netcheck",
                    "image": node.static_image("netcheck"),
                    "imagePullPolicy": "Never",
                    "args": ["serve", "8080"],
                    "ports": [{"containerPort": 8080}],
                    "securityContext": RESTRICTED,
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
                }
            ],
        },
    }


def ready_pod(client, name: str, labels: dict[str, str], timeout: float = 90, namespace: str = NS) -> dict:
    """Create the pod and wait until it is Ready; returns it as then stored."""
    kube.apply(client, netcheck_pod(name, labels, namespace))

    def ready() -> dict | None:
        pod = kube.get(client, "v1", "Pod", name, namespace) or {}
        conditions = (pod.get("status") or {}).get("conditions") or []
        return pod if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None

    return wait_until(ready, timeout=timeout, interval=0.1, what=f"pod {name} Ready")


def probe(cluster: LocalCluster, namespace: str, pod: str, address: str, mode: str = "probe") -> bool:
    """Whether netcheck pod `pod` reaches `address` (host:port): a netcheck server's answer
    (`probe`), or any TCP server's accept (`connect`)."""
    return kubectl(cluster, namespace, "exec", pod, "--", "/netcheck", mode, address, check=False).returncode == 0


def kubectl(cluster: LocalCluster, namespace: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """kubectl against the run's API server in `namespace` (exec and logs reach the real node)."""
    kubectl_bin = binaries(("kubernetes",))["kubernetes"] / "kubectl"
    argv = [str(kubectl_bin), f"--kubeconfig={cluster.kubeconfig}", "--namespace", namespace, *args]
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)
