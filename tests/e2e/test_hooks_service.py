"""The hooks service as deployed: gunicorn with several workers, metrics aggregated across
them, JSON logs that name the workspace."""

import json
import re

import requests

from common import crd
from tests.e2e import workspaces as ws


def test_metrics_and_logs_cover_every_worker(env) -> None:  # type: ignore[no-untyped-def]
    ws.template(env, "e2e-metrics")
    ws.workspace(env, "svc-metrics", "e2e-metrics", running=False)
    try:
        ws.wait_phase(env, "svc-metrics", crd.PHASE_STOPPED)
        page = requests.get(f"{env.hooks_url}/metrics", timeout=5).text
        synced = sum(float(v) for v in re.findall(r'cps1_hook_requests_total\{code="200",hook="sync"\} (\S+)', page))
        recorded = len([r for r in env.recorder.records("sync") if r["code"] == 200])
        # Every sync answered since the hooks last started is counted, whichever worker served it.
        assert 0 < synced <= recorded
        assert "cps1_hook_duration_seconds_bucket" in page
        assert requests.get(f"{env.hooks_url}/healthz", timeout=5).json() == {"status": "ok"}
        log_path = env.hooks.log
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        answered = [entry for entry in lines if entry.get("workspace") == "svc-metrics"]
        assert answered and answered[-1]["message"] == "hook answered"
        assert {"time", "level", "logger", "hook", "phase", "ms"} <= set(answered[-1])
    finally:
        ws.delete(env, "svc-metrics")
        ws.wait_gone(env, "svc-metrics")
        ws.delete(env, "e2e-metrics", "WorkspaceTemplate")
