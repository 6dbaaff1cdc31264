"""gunicorn settings for the hooks service. Every value can be overridden by CPS1_HOOKS_* env."""

import os
import shutil
import tempfile

# Per-worker metric files are aggregated on /metrics. prometheus_client reads this variable
# when it is first imported, so it is set before that import; the directory is fresh per start.
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cps1-hooks-metrics-"))

from prometheus_client import multiprocess  # noqa: E402

from common.logging import logging_config  # noqa: E402

wsgi_app = "hooks.wsgi:app"
bind = os.environ.get("CPS1_HOOKS_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("CPS1_HOOKS_WORKERS", "2"))
worker_class = "sync"
# Metacontroller gives up on a hook after its webhook timeout (10s by default); answer sooner.
timeout = int(os.environ.get("CPS1_HOOKS_TIMEOUT", "8"))
graceful_timeout = 10
keepalive = 30
max_requests = 5000
max_requests_jitter = 500
logconfig_dict = logging_config(os.environ.get("CPS1_LOG_LEVEL", "INFO"))
accesslog = None


def on_starting(server: object) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
