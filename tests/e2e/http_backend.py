"""Small HTTP backends for the e2e tests. `Quiet` is a request handler base with one-call
replies and no access log on stderr. Run as a script, this file is the ingress test's echo
backend, inside a network namespace the test makes: every GET gets a fixed line plus the Host
header and path it carried; a GET asking to upgrade to `echo` switches protocols and then echoes
each line back (a stand-in for the IDE's WebSocket). It prints its port once it listens.

    python http_backend.py ADDRESS
"""

import http.server
import sys

BODY = b"hello from the backend\n"


class Quiet(http.server.BaseHTTPRequestHandler):
    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Echo(Quiet):
    def do_GET(self) -> None:
        if self.headers.get("Upgrade") != "echo":
            self.reply(200, BODY + f"host={self.headers['Host']} path={self.path}\n".encode())
            return
        self.send_response(101)
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "echo")
        self.end_headers()
        self.wfile.flush()
        for line in self.rfile:
            self.wfile.write(line)
            self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((sys.argv[1], 0), Echo)
    print(server.server_address[1], flush=True)
    server.serve_forever()
