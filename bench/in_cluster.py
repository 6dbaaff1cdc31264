"""CPS1 installed by its chart on the real node (as `cps1 dev up --in-cluster` installs it):
what its own pods cost.

- `helm install` to every CPS1 pod Ready;
- the CPS1 pods' memory (the kubelet's working set) at idle, then with N Workspaces Running
  (declared as YAML, four owners; a template requesting 20m CPU so that N fit on the 2-core
  node, the python image, code-server and sshd really running), sampled after a settle period so
  the hooks' resyncs are included.

    .venv/bin/python -m bench.in_cluster [--workspaces 20] [--settle-seconds 60]

Needs root (the real node) and the images (`make node images`).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

import kubeclient as kube
from bench.common import exit_on_sigterm, workspace
from common import crd
from cps1.localcluster import incluster, ingress
from cps1.localcluster.cluster import LocalCluster, binaries

TEMPLATE = Path(__file__).resolve().parent.parent / "examples" / "templates" / "python.yaml"
OWNERS = ("ana", "ben", "cai", "dee")


def small_template() -> dict:
    """The python template with a request small enough for many on two cores."""
    template = yaml.safe_load(TEMPLATE.read_text())
    template["metadata"]["name"] = "bench-small"
    spec = template["spec"]
    spec["parameters"] = []
    spec["resources"] = {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    spec["storage"] = {"size": "1Gi"}
    return template


def memory_mib(cluster: LocalCluster) -> dict[str, float]:
    by_pod = incluster.pod_memory(cluster)
    return {name: round(value / 2**20, 1) for name, value in sorted(by_pod.items())}


def running(client, names: list[str]) -> int:
    items = kube.resource(client, crd.API_VERSION, "Workspace").get().to_dict()["items"]
    phases = {w["metadata"]["name"]: (w.get("status") or {}).get("phase") for w in items}
    return sum(phases.get(n) == crd.PHASE_RUNNING for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--settle-seconds", type=float, default=60)
    args = parser.parse_args()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="cps1-bench-in-cluster-") as tmp:
        run_dir = Path(tmp)
        with LocalCluster(run_dir, nodes=1, real_node=True, metacontroller=False, timeout=180) as cluster:
            ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
            installed = incluster.install(cluster, ingress_port=ing.port)
            client = kube.dynamic_client(cluster.kubeconfig)
            time.sleep(args.settle_seconds)
            idle = memory_mib(cluster)
            kube.apply(client, small_template())
            names = [f"bench-{i:02d}" for i in range(args.workspaces)]
            start = time.monotonic()
            for i, name in enumerate(names):
                kube.apply(client, workspace(name, owner=OWNERS[i % len(OWNERS)], template="bench-small"))
            kube.wait_for(lambda: running(client, names) == len(names), 1800, "Workspaces not Running")
            all_running = time.monotonic() - start
            time.sleep(args.settle_seconds)
            loaded = memory_mib(cluster)
            result = {
                "helm_install_to_every_pod_ready_seconds": round(
                    installed.seconds["helm install to every CPS1 pod Ready"], 1
                ),
                "workspaces": len(names),
                "create_to_all_running_seconds": round(all_running, 1),
                "cps1_pods_memory_mib_idle": {"pods": idle, "total": round(sum(idle.values()), 1)},
                f"cps1_pods_memory_mib_with_{len(names)}_running": {
                    "pods": loaded,
                    "total": round(sum(loaded.values()), 1),
                },
            }
            print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
