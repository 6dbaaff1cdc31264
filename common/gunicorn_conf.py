"""The gunicorn configuration of the hooks and the api (one file, the app named on the command
line): `gunicorn -c common/gunicorn_conf.py hooks.wsgi:app` or `... api.wsgi:app`. Values can be
overridden by CPS1_BIND, CPS1_WORKERS, CPS1_TIMEOUT and CPS1_LOG_LEVEL (or gunicorn's own flags).

Per-worker metric files are aggregated on /metrics. prometheus_client reads
PROMETHEUS_MULTIPROC_DIR when it is first imported, so this module sets it before that import
(when unset) before importing it; the directory is emptied at every start.
"""

import os
import shutil
import tempfile

METRICS_DIR = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cps1-metrics-"))

from prometheus_client import multiprocess  # noqa: E402

from common.logging import logging_config  # noqa: E402

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


def on_starting(server: object) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    os.makedirs(METRICS_DIR, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
