"""Workspaces on the real node, as users get them (the python template's image, built here and
already imported, so nothing is pulled):

- create->Running over N Workspaces created one after another (the phase follows the pod's
  readiness, i.e. code-server answering), median and p95, and where the seconds go from the
  pod's own timestamps (second precision): Workspace created -> pod created -> scheduled ->
  init done -> container started -> Ready -> phase Running seen;
- stop->Stopped and start->Running of the first --keep (3) together (a 2-core node holds no
  more python Workspaces at once: each requests 500m CPU);
- a Workspace pod's memory at idle (kubelet's summary API, working set);
- the gateway's throughput through a real pod's sshd against direct OpenSSH to the same sshd
  (its Service IP, with the gateway's own upstream key), interleaved rounds, as a ratio;
- with --storm-sessions N: --storms login storms of N concurrent downloads of --session-mib
  each, straight to that sshd and through the gateway in turn (bench/gateway.py's storm), with
  failures, aggregate MB/s, first-byte p50/p95 and the gateway's CPU and memory. The pod's sshd
  keeps the image's OpenSSH defaults (MaxStartups 10:30:100), as users meet it.

    .venv/bin/python -m bench.real_workspaces [--workspaces 10] [--size-mib 128] [--runs 3]
        [--storm-sessions 0] [--storms 3] [--session-mib 2]

Needs root (the real node) and the images (`make node images`). Compare numbers within one run.
"""

import argparse
import base64
import itertools
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import kubeclient as kube
from bench.common import exit_on_sigterm, serve_cps1, set_running, summary, workspace
from bench.gateway import MB, Target, report_storms, storm_limits, storms, transfer
from bench.lifecycle import phases, timed
from cps1.dev import import_workspace_images
from cps1.localcluster import gateway, incluster
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import free_port
from gateway import keys
from gateway.cluster import Cluster
from tests.support import gateway as gs
from tests.support.cluster import Env

API = "cps1.io/v1alpha1"
SYSTEM_NS = "cps1-bench"
STEPS = ("pod created", "scheduled", "init done", "container started", "Ready", "phase Running seen")


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def pod_timeline(client, name: str) -> list[float]:
    """The pod's own moments (epoch seconds): created, scheduled, initialized, started, Ready."""
    pods = kube.resource(client, "v1", "Pod").get(namespace=f"ws-{name}").to_dict()["items"]
    pod = next(p for p in pods if not p["metadata"].get("deletionTimestamp"))
    conditions = {c["type"]: c["lastTransitionTime"] for c in pod["status"]["conditions"]}
    workspace = next(c for c in pod["status"]["containerStatuses"] if c["name"] == "workspace")
    return [
        seconds(pod["metadata"]["creationTimestamp"]),
        seconds(conditions["PodScheduled"]),
        seconds(conditions["Initialized"]),
        seconds(workspace["state"]["running"]["startedAt"]),
        seconds(conditions["Ready"]),
    ]


def create_one_by_one(client, names: list[str], keep: int) -> tuple[list[float], list[list[float]]]:
    """create->Running of each Workspace alone, and the seconds of each step. The node has two
    cores and a Workspace requests half of one: after the first `keep`, each is stopped (its
    pod gone) before the next is created, so every create finds room."""
    totals, steps = [], []
    for i, name in enumerate(names):
        created = time.time()
        kube.apply(client, workspace(name))
        while phases(client).get(name) != "Running":
            if time.time() - created > 600:
                raise SystemExit(f"{name} was not Running after 600 s")
            time.sleep(0.1)
        running = time.time()
        moments = [created, *pod_timeline(client, name), running]
        totals.append(running - created)
        steps.append([max(0.0, b - a) for a, b in itertools.pairwise(moments)])
        if i >= keep:
            timed(client, [name], "Stopped", set_running(client, False))
    return totals, steps


def idle_memory_mib(cluster: LocalCluster, names: list[str]) -> list[float]:
    """Each Workspace pod's working set from the kubelet's summary API."""
    return [b / 2**20 for name in names for b in incluster.pod_memory(cluster, f"ws-{name}").values()]


def gateway_and_direct(
    cluster: LocalCluster, client, run_dir: Path, upstream: gateway.GatewayKeys, name: str, connections: int
) -> tuple[list[Target], int]:
    """A gateway process (limits for `connections` from one key) and the two ways to Workspace
    `name`'s sshd: through it, and direct to the Service IP with the gateway's upstream key;
    and the gateway's PID."""
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    gateway.ensure_host_key(client, SYSTEM_NS)
    user = gs.client_key(run_dir, "bench")
    gs.user_configmap(cast(Env, SimpleNamespace(client=client)), SYSTEM_NS, "bench", [user.public])
    port = free_port()
    proc = gateway.gateway_process(run_dir, cluster.kubeconfig, SYSTEM_NS, upstream, port)
    proc.env.update({**storm_limits(connections), "CPS1_GATEWAY_LOG_LEVEL": "WARNING"})
    cluster.launch(proc)
    assert proc.pid is not None
    host_line = keys.public_line(
        keys.host_key(Cluster.connect(str(cluster.kubeconfig), SYSTEM_NS), SYSTEM_NS, gateway.HOST_KEY_SECRET)
    )
    secret = kube.get(client, "v1", "Secret", "workspace", f"ws-{name}")
    service = kube.get(client, "v1", "Service", "workspace", f"ws-{name}")
    assert secret is not None and service is not None
    pod_host_key = base64.b64decode(secret["data"]["ssh_host_ed25519_key.pub"]).decode().split()[:2]
    service_ip = service["spec"]["clusterIP"]
    direct_known = run_dir / "known_direct"
    direct_known.write_text(f"{service_ip} {' '.join(pod_host_key)}\n")
    options = ["-o", "Compression=no"]
    targets = [
        Target(
            "gateway-real-node", port, name, gs.known_hosts(run_dir / "known_gw", port, host_line), user.path, options
        ),
        Target("direct-real-node", 22, "coder", direct_known, upstream.private_key_file, options, host=service_ip),
    ]
    return targets, proc.pid


def gateway_against_direct(targets: list[Target], size: int, runs: int) -> dict[str, float]:
    """Download and upload MB/s through the gateway and directly to the pod's sshd, rounds
    interleaved so the machine's load touches both alike."""
    samples: dict[str, list[float]] = {}
    for target in targets:
        transfer(target, "download", 1 << 20)  # warm-up: a first login, caches
    for _ in range(runs):
        for direction in ("download", "upload"):
            for target in targets:
                rate = size / transfer(target, direction, size) / MB
                samples.setdefault(f"{target.name} {direction}", []).append(rate)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--keep", type=int, default=3, help="Workspaces left running (the node has 2 cores)")
    parser.add_argument("--storm-sessions", type=int, default=0, help="concurrent sessions per login storm")
    parser.add_argument("--storms", type=int, default=3)
    parser.add_argument("--session-mib", type=int, default=2)
    args = parser.parse_args()
    exit_on_sigterm()
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-bench-real-"))
    with LocalCluster(run_dir, nodes=1, real_node=True) as cluster:
        import_workspace_images(cluster)
        upstream = gateway.upstream_keys(run_dir)
        client, _ = serve_cps1(cluster, 2, {"CPS1_HOOKS_GATEWAY_PUBLIC_KEY": upstream.public_line})
        names = [f"real-bench-{i:02d}" for i in range(args.workspaces)]

        totals, steps = create_one_by_one(client, names, args.keep)
        kept = names[: args.keep]
        print(f"create->Running, one after another (image present): {summary(totals)}", flush=True)
        for i, step in enumerate(STEPS):
            print(f"  {step:<20} median {statistics.median(s[i] for s in steps):6.2f} s")

        time.sleep(args.idle_seconds)
        memory = idle_memory_mib(cluster, kept)
        print(f"a Workspace pod's memory after {args.idle_seconds:.0f} s idle (MiB): {summary(memory)}")

        connections = max(1000, args.storm_sessions)
        targets, gateway_pid = gateway_and_direct(cluster, client, run_dir, upstream, names[0], connections)
        rates = gateway_against_direct(targets, args.size_mib << 20, args.runs)
        for direction in ("download", "upload"):
            gw, direct = rates[f"gateway-real-node {direction}"], rates[f"direct-real-node {direction}"]
            print(
                f"{direction} {args.size_mib} MiB: gateway {gw:.1f} MB/s, direct {direct:.1f} MB/s, "
                f"ratio {gw / direct:.2f}"
            )

        if args.storm_sessions:
            direct_first = targets[::-1]
            rounds = storms(
                direct_first,
                {targets[0].name: gateway_pid},
                args.storms,
                args.storm_sessions,
                args.session_mib << 20,
                None,
            )
            report_storms(rounds, args.storm_sessions, args.session_mib)

        stopped = timed(client, kept, "Stopped", set_running(client, False))
        print(f"stop->Stopped, {len(kept)} together: {summary(stopped)}")
        started = timed(client, kept, "Running", set_running(client, True))
        print(f"start->Running, {len(kept)} together: {summary(started)}")
        for name in names:
            kube.resource(client, API, "Workspace").delete(name=name)


if __name__ == "__main__":
    main()
