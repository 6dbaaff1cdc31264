"""A loopback stand-in for code-server's /healthz (code-server cannot run on kwok's simulated
pods): answers each request from a function of its path, and records the paths asked for."""

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (status, JSON body or None, extra headers)
Answer = tuple[int, object, dict[str, str]]


@contextlib.contextmanager
def health_server(answer: Callable[[str], Answer]) -> Iterator[tuple[str, list[str]]]:
    """(base URL, the paths requested so far)."""
    seen: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            code, body, headers = answer(self.path)
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            for key, value in {**headers, "Content-Length": str(len(raw))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
