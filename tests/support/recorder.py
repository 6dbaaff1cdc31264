"""A recording pass-through in front of the hooks: Metacontroller calls it, it forwards to
the real hooks unchanged and keeps each request and answer as JSON (the contract tests'
fixtures come from here). The fault tests set `fail_with` to make it answer an error status
instead for a while; the protocol tests set `tamper` to rewrite the hooks' 200 answers (a
malformed body that Metacontroller must refuse). It listens on 127.0.0.1 only."""

import json
import shutil
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

import requests


class Recorder:
    def __init__(self, target: str, out_dir: Path) -> None:
        self.target = target.rstrip("/")
        self.out_dir = out_dir
        shutil.rmtree(out_dir, ignore_errors=True)
        self.out_dir.mkdir(parents=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._seq = count()
        self._lock = threading.Lock()
        self.in_flight = 0  # requests received and not yet answered
        self.fail_with: int | None = None
        # (hook, request, answer) -> the answer to send instead, for 200 answers only.
        self.tamper: Callable[[str, dict, dict], dict] | None = None
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with recorder._lock:
                    recorder.in_flight += 1
                try:
                    self._relay()
                finally:
                    with recorder._lock:
                        recorder.in_flight -= 1

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if recorder.fail_with:
                    code, payload = recorder.fail_with, b'{"error": "injected fault"}'
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                try:
                    answer = requests.post(
                        recorder.target + self.path, data=body, headers={"Content-Type": "application/json"}, timeout=10
                    )
                    code, payload = answer.status_code, answer.content
                except requests.RequestException:
                    code, payload = 502, b'{"error": "hooks unreachable"}'
                recorder.save(self.path.strip("/"), body, code, payload)
                if code == 200 and recorder.tamper:
                    tampered = recorder.tamper(self.path.strip("/"), json.loads(body), json.loads(payload))
                    payload = json.dumps(tampered).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def save(self, hook: str, request: bytes, code: int, answer: bytes) -> None:
        record = {"hook": hook, "code": code}
        try:
            record["request"] = json.loads(request)
            record["answer"] = json.loads(answer)
        except ValueError:
            return
        path = self.out_dir / f"{next(self._seq):06d}-{hook}.json"
        path.write_text(json.dumps(record))

    def records(self, hook: str) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.out_dir.glob(f"*-{hook}.json"))]

    def __enter__(self) -> "Recorder":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
