"""Sync hook throughput and latency under gunicorn, as a ratio to a minimal Flask endpoint
that takes the same body, measured in one run on this machine.

    .venv/bin/python -m bench.hooks_sync [--requests 2000] [--concurrency 8] [--workers 2]

The body is a sync request recorded from the real Metacontroller for a Running workspace
(tests/unit/hooks/fixtures/sync-running.json).
"""

import argparse
import json
import tempfile
from pathlib import Path

from bench.common import load, summary
from cps1.localcluster import install
from cps1.localcluster.install import ROOT
from cps1.localcluster.processes import Process
from tests.constants import GATEWAY_KEY, TEST_SEED

BODY = json.dumps(json.loads((ROOT / "tests/unit/hooks/fixtures/sync-running.json").read_text())["request"]).encode()


def serve(app: str, workers: int, run_dir: Path) -> tuple[Process, str]:
    env = {
        "CPS1_HOOKS_SECRET_SEED": TEST_SEED,
        "CPS1_HOOKS_GATEWAY_PUBLIC_KEY": GATEWAY_KEY,
        "CPS1_LOG_LEVEL": "WARNING",
    }
    proc, url = install.gunicorn_process(run_dir, env, workers, app)
    proc.start()
    proc.wait_ready(30)
    return proc, f"{url}/sync"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-bench-"))
    results = {}
    for name, app in (("baseline", "bench.baseline_app:app"), ("hooks", "hooks.wsgi:app")):
        proc, url = serve(app, args.workers, run_dir)
        try:
            load(url, BODY, 100, 2)  # warm-up
            results[name] = load(url, BODY, args.requests, args.concurrency)
        finally:
            proc.stop()
    print(
        f"body {len(BODY)} bytes, {args.requests} requests, concurrency {args.concurrency}, "
        f"{args.workers} gunicorn workers"
    )
    for name, (rate, latencies) in results.items():
        print(f"{name:9s} {rate:8.1f} req/s   latency ms: {summary([x * 1000 for x in latencies])}")
    base_rate, base_lat = results["baseline"]
    rate, lat = results["hooks"]
    median = sorted(lat)[len(lat) // 2] / sorted(base_lat)[len(base_lat) // 2]
    print(f"ratio hooks/baseline: throughput {rate / base_rate:.2f}x, median latency {median:.2f}x")


if __name__ == "__main__":
    main()
