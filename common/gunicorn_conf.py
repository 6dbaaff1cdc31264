"""The gunicorn configuration of the hooks and the api (one file, the app named on the command
line): `gunicorn -c common/gunicorn_conf.py hooks.wsgi:app` or `... api.wsgi:app`. Values can be
overridden by CPS1_BIND, CPS1_WORKERS, CPS1_TIMEOUT and CPS1_LOG_LEVEL (or gunicorn's own flags).

Per-worker metric files are aggregated on /metrics. prometheus_client reads
PROMETHEUS_MULTIPROC_DIR when it is first imported, so the master sets it (a fresh temporary
directory when unset, emptied when set) in `on_starting`, before any worker is forked and imports
the app; prometheus_client itself is imported only when a worker exits, so importing this file
creates nothing.
"""

import os
import shutil
import tempfile
from typing import Protocol

from common.logging import logging_config

# In a container the service listens on every address; local runs pass --bind 127.0.0.1:PORT.
bind = os.environ.get("CPS1_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("CPS1_WORKERS", "2"))
worker_class = "sync"
# Metacontroller gives up on a hook after its webhook timeout (10s by default); answer sooner.
timeout = int(os.environ.get("CPS1_TIMEOUT", "8"))
graceful_timeout = 10
keepalive = 30
max_requests = 5000
max_requests_jitter = 500
logconfig_dict = logging_config(os.environ.get("CPS1_LOG_LEVEL", "INFO"))
accesslog = None


class Worker(Protocol):
    """The part of gunicorn's worker object these hooks read."""

    pid: int


def on_starting(server: object) -> None:
    """Give the workers an empty metrics directory (set in the environment they inherit)."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.makedirs(metrics_dir, exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cps1-metrics-")


def child_exit(server: object, worker: Worker) -> None:
    """Drop a dead worker's live gauges from the aggregate."""
    from prometheus_client import multiprocess  # imported late: see the module's docstring

    multiprocess.mark_process_dead(worker.pid)
