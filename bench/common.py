"""Shared pieces of the benchmarks: percentiles and a loopback load loop."""

import os
import secrets
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests
import yaml


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f}  p95 {percentile(values, 95):.3f}  "
        f"min {min(values):.3f}  max {max(values):.3f}  (n={len(values)})"
    )


def load(url: str, body: bytes, requests_total: int, concurrency: int) -> tuple[float, list[float]]:
    """POST `body` to `url` `requests_total` times from `concurrency` threads (bounded, loopback
    only). Returns (requests per second, per-request latencies in seconds)."""
    assert url.startswith("http://127.0.0.1:")
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests_total // concurrency

    def worker() -> None:
        session = requests.Session()
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
            response.raise_for_status()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def group_cpu_seconds(leader_pid: int) -> float:
    """CPU time (user + system) used so far by every live process in `leader_pid`'s group,
    read from /proc (gunicorn's workers and the Go servers' threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == leader_pid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def histogram_quantiles(metrics_page: str, name: str, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict:
    """Quantiles (bucket upper bounds, in seconds) of a Prometheus histogram summed over labels."""
    buckets: dict[float, float] = {}
    for line in metrics_page.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0) + float(line.rsplit(" ", 1)[1])
    if not buckets:
        return {}
    total = buckets[max(buckets)]
    out = {}
    for q in quantiles:
        out[q] = next((b for b in sorted(buckets) if total and buckets[b] >= q * total), float("inf"))
    return out


def counter_total(metrics_page: str, name: str, match: str = "") -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_page.splitlines()
        if line.startswith(name + "{") and match in line
    )


def exit_on_sigterm() -> None:
    """Turn SIGTERM (from `timeout`, or a CI stop) into a normal exit, so that the benchmark's
    `with LocalCluster(...)` stops every process it started instead of orphaning them."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def serve_cps1(cluster: Any, hooks_workers: int, hooks_env: dict[str, str] | None = None) -> tuple[Any, str]:
    """Install CPS1 in a running local cluster for a benchmark: the hooks under gunicorn (quiet
    logs), the CRDs, the CompositeController and the example Python template. Returns
    (dynamic client, hooks base URL)."""
    import kubeclient as kube
    from cps1.localcluster import install

    env = {"CPS1_LOG_LEVEL": "WARNING", "CPS1_HOOKS_SECRET_SEED": secrets.token_urlsafe(24), **(hooks_env or {})}
    hooks, url = install.gunicorn_process(cluster.run_dir, env, workers=hooks_workers)
    cluster.launch(hooks)
    client = kube.dynamic_client(cluster.kubeconfig)
    install.install_crds(client)
    install.install_controller(client, url)
    template = Path(__file__).resolve().parent.parent / "examples" / "templates" / "python.yaml"
    kube.apply(client, yaml.safe_load(template.read_text()))
    return client, url


WORKSPACE_API = "cps1.io/v1alpha1"


def workspace(name: str, owner: str = "bench", template: str = "python") -> dict:
    """A Workspace as the benchmarks create them (the example template by default)."""
    return {
        "apiVersion": WORKSPACE_API,
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"owner": owner, "template": template},
    }


def set_running(client: Any, running: bool) -> Any:
    """An action for `bench.lifecycle.timed`: patch a Workspace's `spec.running`."""
    import kubeclient as kube

    workspaces = kube.resource(client, WORKSPACE_API, "Workspace")
    return lambda name: workspaces.patch(
        name=name, body={"spec": {"running": running}}, content_type="application/merge-patch+json"
    )
