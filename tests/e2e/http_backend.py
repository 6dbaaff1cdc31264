"""Small HTTP backends for the e2e tests. `Quiet` is a request handler base with one-call
replies and no access log on stderr. Run as a script, this file is the ingress test's echo
backend, inside a network namespace the test makes: every GET gets a fixed line plus the Host
header and path it carried; a GET asking to upgrade to `echo` switches protocols and then echoes
each line back (a stand-in for the IDE's WebSocket). It prints its port once it listens.

    python http_backend.py ADDRESS
"""

import contextlib
import http.server
import os
import subprocess
import sys
from collections.abc import Iterator

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


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def in_netns(host_side: str, address: str) -> Iterator[tuple[str, int]]:
    """(address, port) of this echo server in a network namespace of its own, linked to the
    host by a veth pair (`host_side`: the host end's address/prefix), as a pod would live in
    one; the namespace and the pair are removed afterwards. Tests running at once pick
    different ranges."""
    tag = f"{os.getpid()}-{address.rsplit('.', 1)[-1]}"
    netns, veth = f"cps1-backend-{tag}", f"cb{abs(hash(tag)) % 10**8}"
    prefix = host_side.rsplit("/", 1)[1]
    _ip("netns", "add", netns)
    server = None
    try:
        _ip("link", "add", f"{veth}h", "type", "veth", "peer", "name", f"{veth}n", "netns", netns)
        _ip("addr", "add", host_side, "dev", f"{veth}h")
        _ip("link", "set", f"{veth}h", "up")
        for args in (("addr", "add", f"{address}/{prefix}", "dev", f"{veth}n"), ("link", "set", f"{veth}n", "up")):
            _ip("netns", "exec", netns, "ip", *args)
        server = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, __file__, address], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        yield address, int(server.stdout.readline())
    finally:
        if server is not None:
            server.kill()
            server.communicate()
        _ip("netns", "del", netns)  # takes the veth pair with it


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((sys.argv[1], 0), Echo)
    print(server.server_address[1], flush=True)
    server.serve_forever()
