"""Workspace lifecycle times on the local control plane: create->Running, stop->Stopped and
start->Running, median and p95 over N Workspaces created together.

    .venv/bin/python -m bench.lifecycle [--workspaces 20] [--hooks-workers 2] [--mc-workers 5]
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import kubeclient as kube
from bench.common import exit_on_sigterm, serve_cps1, set_running, summary, workspace
from cps1.localcluster.cluster import LocalCluster

API = "cps1.io/v1alpha1"


def phases(client) -> dict[str, str]:
    items = kube.resource(client, API, "Workspace").get().to_dict()["items"]
    return {w["metadata"]["name"]: (w.get("status") or {}).get("phase", "") for w in items}


def timed(client, names: list[str], phase: str, action: Callable[[str], None], timeout: float = 600) -> list[float]:
    """Do `action` to every workspace, then the seconds until each shows `phase`."""
    started = time.monotonic()
    for name in names:
        action(name)
    done: dict[str, float] = {}
    while len(done) < len(names) and time.monotonic() - started < timeout:
        now = time.monotonic()
        for name, seen in phases(client).items():
            if name in names and seen == phase and name not in done:
                done[name] = now - started
        time.sleep(0.1)
    if len(done) < len(names):
        raise SystemExit(f"only {len(done)} of {len(names)} reached {phase} within {timeout}s")
    return list(done.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--hooks-workers", type=int, default=2)
    parser.add_argument("--mc-workers", type=int, default=10)
    args = parser.parse_args()
    exit_on_sigterm()
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-bench-"))
    with LocalCluster(run_dir, nodes=2, metacontroller_workers=args.mc_workers) as cluster:
        client, _ = serve_cps1(cluster, args.hooks_workers)
        names = [f"bench-{i:03d}" for i in range(args.workspaces)]

        def create(name: str) -> None:
            kube.apply(client, workspace(name))

        results = {
            "create -> Running": timed(client, names, "Running", create),
            "stop   -> Stopped": timed(client, names, "Stopped", set_running(client, False)),
            "start  -> Running": timed(client, names, "Running", set_running(client, True)),
        }
    print(
        f"{args.workspaces} workspaces, Metacontroller workers {args.mc_workers}, "
        f"hooks gunicorn workers {args.hooks_workers}; seconds from the request:"
    )
    for name, values in results.items():
        print(f"  {name}: {summary(values)}")


if __name__ == "__main__":
    main()
