"""Shared pieces of the benchmarks: percentiles and a loopback load loop."""

import statistics
import threading
import time

import requests


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
