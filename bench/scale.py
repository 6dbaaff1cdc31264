"""Scale: N Workspaces at once on the local control plane, for N in a list (default 1,50,200,500).

For each N: time until all are Running after a create, all Stopped after a stop, all Running
after a start, and all gone (Workspaces and namespaces) after a delete; the hooks' request rate
and latency quantiles (from their /metrics), and the CPU seconds of the hooks, Metacontroller and
kube-apiserver. Growth is reported as time per Workspace and as a ratio to the smallest N run.

    .venv/bin/python -m bench.scale [--sizes 1,50,200,500] [--mc-workers 5] [--hooks-workers 2]
        [--mc-qps 50 --mc-burst 100] [--nodes 6]
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

import kubeclient as kube
from bench.common import counter_total, exit_on_sigterm, group_cpu_seconds, histogram_quantiles, serve_cps1
from cps1.localcluster.cluster import LocalCluster

API = "cps1.io/v1alpha1"
COMPONENTS = ("hooks", "metacontroller", "kube-apiserver")


def phases(client) -> dict[str, str]:
    items = kube.resource(client, API, "Workspace").get().to_dict()["items"]
    return {w["metadata"]["name"]: (w.get("status") or {}).get("phase", "") for w in items}


def until(check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"not done within {timeout:.0f}s")
        time.sleep(0.25)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,50,200,500")
    parser.add_argument("--mc-workers", type=int, default=10)
    parser.add_argument("--mc-qps", type=float, default=50)
    parser.add_argument("--mc-burst", type=int, default=100)
    parser.add_argument("--hooks-workers", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--broken",
        type=int,
        default=0,
        help="then repeat every size with this many broken Workspaces present, and compare",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    sizes = [int(n) for n in args.sizes.split(",")]
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-scale-"))
    rows = []
    cluster = LocalCluster(
        run_dir,
        nodes=args.nodes,
        metacontroller_workers=args.mc_workers,
        metacontroller_qps=args.mc_qps,
        metacontroller_burst=args.mc_burst,
    )
    with cluster:
        client, url = serve_cps1(cluster, args.hooks_workers)
        workspaces = kube.resource(client, API, "Workspace")
        namespaces = kube.resource(client, "v1", "Namespace")
        plan = [(n, "") for n in sizes] + ([(n, "b") for n in sizes] if args.broken else [])
        for n, tag in plan:
            if tag and not any(name.startswith("broken-") for name in phases(client)):
                for i in range(args.broken):
                    specs: list[dict[str, Any]] = [
                        {"template": "no-such"},
                        {"template": "python", "parameters": {"cpu": "64"}},
                        {"template": "python", "parameters": {"colour": "blue"}},
                    ]
                    spec = specs[i % 3]
                    kube.apply(
                        client,
                        {
                            "apiVersion": API,
                            "kind": "Workspace",
                            "metadata": {"name": f"broken-{i:04d}"},
                            "spec": {"owner": "bench", **spec},
                        },
                    )
                until(lambda: sum(p == "Failed" for p in phases(client).values()) >= args.broken, args.timeout)
                print(f"{args.broken} broken Workspaces are Failed; measuring again", flush=True)
            names = [f"scale{tag}-{n}-{i:04d}" for i in range(n)]
            wanted = set(names)

            def all_in(phase: str, wanted: set[str] = wanted) -> bool:
                seen = phases(client)
                return all(seen.get(name) == phase for name in wanted)

            def gone(wanted: set[str] = wanted) -> bool:
                left = {ns["metadata"]["name"] for ns in namespaces.get().to_dict()["items"]}
                return not (wanted & set(phases(client))) and not ({f"ws-{w}" for w in wanted} & left)

            def each(action: Callable[[str], object], names: list[str] = names) -> None:
                for name in names:
                    action(name)

            def set_running(value: bool) -> Callable[[str], object]:
                def patch(workspace: str) -> object:
                    return workspaces.patch(
                        name=workspace, body={"spec": {"running": value}}, content_type="application/merge-patch+json"
                    )

                return patch

            before_page = requests.get(f"{url}/metrics", timeout=5).text
            cpu_before = {c: group_cpu_seconds(cluster.process(c).pid or 0) for c in COMPONENTS}
            started = time.monotonic()

            def timed(action: Callable[[str], object], done: Callable[[], bool]) -> float:
                mark = time.monotonic()
                each(action)
                until(done, args.timeout)
                return time.monotonic() - mark

            def create(name: str) -> object:
                spec = {"owner": "bench", "template": "python", "parameters": {"cpu": "500m", "memory": "1Gi"}}
                return kube.apply(
                    client, {"apiVersion": API, "kind": "Workspace", "metadata": {"name": name}, "spec": spec}
                )

            timings = {
                "create->Running": timed(create, lambda: all_in("Running")),
                "stop->Stopped": timed(set_running(False), lambda: all_in("Stopped")),
                "start->Running": timed(set_running(True), lambda: all_in("Running")),
                "delete->gone": timed(lambda name: workspaces.delete(name=name), gone),
            }
            elapsed = time.monotonic() - started
            page = requests.get(f"{url}/metrics", timeout=5).text
            hook_calls = counter_total(page, "cps1_hook_requests_total") - counter_total(
                before_page, "cps1_hook_requests_total"
            )
            quantiles = histogram_quantiles(page, "cps1_hook_duration_seconds")
            cpu = {c: group_cpu_seconds(cluster.process(c).pid or 0) - cpu_before[c] for c in COMPONENTS}
            rows.append((n, timings, hook_calls / elapsed, quantiles, cpu, elapsed, tag))
            print(
                f"N={n}{' with broken' if tag else ''}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
                flush=True,
            )
    print(
        f"\nMetacontroller workers {args.mc_workers}, client QPS {args.mc_qps}/burst {args.mc_burst}; "
        f"hooks gunicorn workers {args.hooks_workers}; {args.nodes} kwok nodes"
    )
    base_n, base_t = rows[0][0], rows[0][1]
    print(
        f"{'N':>5} {'create':>8} {'stop':>7} {'start':>7} {'delete':>8} {'s/ws(create)':>12} "
        f"{'vs N=' + str(base_n):>8} {'hook req/s':>10} {'p50/p95/p99 ms (cumulative)':>28} "
        f"{'CPU s hooks/mc/apiserver':>26}"
    )
    for n, timings, rate, q, cpu, _, tag in rows:
        per = timings["create->Running"] / n
        ratio = timings["create->Running"] / base_t["create->Running"]
        qs = "/".join(f"{q.get(x, 0) * 1000:.0f}" for x in (0.5, 0.95, 0.99))
        print(
            f"{str(n) + ('*' if tag else ''):>5} {timings['create->Running']:>8.1f} {timings['stop->Stopped']:>7.1f} "
            f"{timings['start->Running']:>7.1f} {timings['delete->gone']:>8.1f} {per:>12.3f} {ratio:>8.1f} "
            f"{rate:>10.1f} {qs:>28} {'/'.join(f'{cpu[c]:.0f}' for c in COMPONENTS):>26}"
        )
    clean = [r for r in rows if not r[6]]
    per_ws = statistics.median(r[1]["create->Running"] / r[0] for r in clean)
    print(f"median time per workspace to Running (clean runs): {per_ws:.3f}s")
    for row in rows:
        if row[6]:
            base = next(r for r in clean if r[0] == row[0])
            ratio = row[1]["create->Running"] / base[1]["create->Running"]
            print(
                f"* N={row[0]} with {args.broken} broken Workspaces present: create->Running {ratio:.2f}x the clean run"
            )


if __name__ == "__main__":
    main()
