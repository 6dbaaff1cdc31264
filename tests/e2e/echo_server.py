"""A tiny HTTP backend for the ingress test, run inside a network namespace the test makes:
it answers every GET with a fixed line plus the Host header and path it received, and prints
its port once it listens. A GET asking to upgrade to `echo` switches protocols and then echoes
each line back (a stand-in for the IDE's WebSocket).

    python echo_server.py ADDRESS
"""

import http.server
import sys

BODY = b"hello from the backend\n"


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Upgrade") == "echo":
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "echo")
            self.end_headers()
            self.wfile.flush()
            for line in self.rfile:
                self.wfile.write(line)
                self.wfile.flush()
            self.close_connection = True
            return
        body = BODY + f"host={self.headers['Host']} path={self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((sys.argv[1], 0), Echo)
    print(server.server_address[1], flush=True)
    server.serve_forever()
