"""Prometheus metrics for the hooks, correct under several gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it), every worker writes its samples
to that directory and /metrics aggregates them; without it, the process's own registry is used.
"""

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

HOOK_REQUESTS = Counter(
    "cps1_hook_requests_total", "Hook requests answered, by hook and HTTP status.", ["hook", "code"]
)
HOOK_LATENCY = Histogram(
    "cps1_hook_duration_seconds",
    "Time to compute a hook answer.",
    ["hook"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WORKSPACE_PHASES = Counter("cps1_workspace_sync_phase_total", "Sync answers by the phase they reported.", ["phase"])


def exposition() -> tuple[bytes, str]:
    """The metrics page body and content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
