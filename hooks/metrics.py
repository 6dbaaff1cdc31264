"""Prometheus metrics of the hooks (served by common.metrics, across gunicorn workers)."""

from prometheus_client import Counter, Histogram

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
