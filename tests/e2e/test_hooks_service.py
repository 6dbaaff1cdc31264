"""The hooks service as deployed: gunicorn with several workers, metrics aggregated across
them, JSON logs that name the workspace."""

import contextlib
import json
import re
import signal
from collections.abc import Iterator

import requests

from common import crd
from tests.support import workspaces as ws
from tests.support.cluster import Env, wait_until


@contextlib.contextmanager
def metacontroller_paused(env: Env) -> Iterator[None]:
    """No hook call is in flight or starts while this holds (Metacontroller is SIGSTOPped)."""
    metacontroller = env.cluster.process("metacontroller")
    metacontroller.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        metacontroller.signal(signal.SIGCONT)


def counts(env: Env) -> tuple[float, int, str]:
    """(sync 200s the scraped metrics count, sync 200s the recorder saw, the page), at rest."""
    with metacontroller_paused(env):
        wait_until(lambda: env.recorder.in_flight == 0, 15, interval=0.05, what="hook calls in flight to finish")
        page = requests.get(f"{env.hooks_url}/metrics", timeout=5).text
        recorded = len([r for r in env.recorder.records("sync") if r["code"] == 200])
    synced = sum(float(v) for v in re.findall(r'cps1_hook_requests_total\{code="200",hook="sync"\} (\S+)', page))
    return synced, recorded, page


def test_metrics_and_logs_cover_every_worker(env: Env) -> None:
    ws.template(env, "e2e-metrics")
    synced_before, recorded_before, _ = counts(env)
    ws.workspace(env, "svc-metrics", "e2e-metrics", running=False)
    try:
        ws.wait_phase(env, "svc-metrics", crd.PHASE_STOPPED)
        synced, recorded, page = counts(env)
        # Every sync answered in between is counted once, whichever of the workers served it.
        assert recorded - recorded_before >= 2
        assert synced - synced_before == recorded - recorded_before
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
