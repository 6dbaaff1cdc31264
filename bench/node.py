"""The real node's times: the control plane and the node up (when each agent was ready),
pod create->Ready over N pods of our netcheck image created one after another, then N created
together, and the teardown.

    .venv/bin/python -m bench.node [--pods 10]
"""

import argparse
import tempfile
import time
from pathlib import Path

import kubeclient as kube
from bench.common import exit_on_sigterm, summary
from cps1.localcluster.cluster import LocalCluster
from tests.support.node import netcheck_pod, ready_pod, restricted_namespace


class TimedCluster(LocalCluster):
    """A LocalCluster that notes when each process it launches is ready."""

    def launch(self, proc) -> None:
        super().launch(proc)
        print(f"  {proc.name:<24} ready at {time.monotonic() - STARTED:6.1f}s", flush=True)


STARTED = time.monotonic()


def main() -> None:
    global STARTED
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=10)
    args = parser.parse_args()
    exit_on_sigterm()
    cluster = TimedCluster(Path(tempfile.mkdtemp(prefix="cps1-bench-node-")), nodes=1, real_node=True)
    STARTED = time.monotonic()
    with cluster:
        print(f"control plane + real node up: {time.monotonic() - STARTED:.1f}s")
        client = kube.dynamic_client(cluster.kubeconfig)
        restricted_namespace(client)
        one_by_one = []
        for i in range(args.pods):
            started = time.monotonic()
            ready_pod(client, f"seq-{i}", {"bench": "seq"})
            one_by_one.append(time.monotonic() - started)
        print(f"pod create->Ready, one after another: {summary(one_by_one)}")
        started = time.monotonic()
        for i in range(args.pods):
            kube.apply(client, netcheck_pod(f"par-{i}", {}))
        together = []
        for i in range(args.pods):
            ready_pod(client, f"par-{i}", {})
            together.append(time.monotonic() - started)
        print(f"pod create->Ready, {args.pods} together (time until each was seen Ready): {summary(together)}")
        STARTED = time.monotonic()
    print(f"teardown (node cleanup and control plane): {time.monotonic() - STARTED:.1f}s")


if __name__ == "__main__":
    main()
