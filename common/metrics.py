"""The Prometheus page of a process, aggregated across gunicorn workers when
PROMETHEUS_MULTIPROC_DIR is set (each worker then writes its samples there)."""

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess


def exposition() -> tuple[bytes, str]:
    """The metrics page body and content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
