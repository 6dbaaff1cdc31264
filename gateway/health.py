"""The side port: /healthz (the process answers), /readyz (accepting and the Kubernetes API
answers), /metrics (Prometheus). Plain http.server: three GETs do not need a framework."""

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.settings import split_address

log = logging.getLogger("cps1.gateway.health")


class HealthServer:
    def __init__(self, address: str, ready: Callable[[], bool], registry: CollectorRegistry) -> None:
        ready_check, metrics_registry = ready, registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._answer(200, b"ok\n", "text/plain")
                elif path == "/readyz":
                    ok = ready_check()
                    self._answer(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
                elif path == "/metrics":
                    self._answer(200, generate_latest(metrics_registry), CONTENT_TYPE_LATEST)
                else:
                    self._answer(404, b"not found\n", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # probes are not news
                return

        self.server = ThreadingHTTPServer(split_address(address), Handler)
        self.server.daemon_threads = True
        bound = self.server.server_address
        self.address = (str(bound[0]), int(bound[1]))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
