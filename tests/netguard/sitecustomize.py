"""The tests' network guard, loaded by every Python process the test run starts (the pytest
process imports it; gunicorn, Streamlit and the gateway get it through PYTHONPATH, which
tests/e2e/conftest.py sets). A connection to anything but the allowed networks (loopback, plus
the run's pod and Service ranges when a real node runs) is refused and written to the
violations file, which the session checks at its end.
"""

import ipaddress
import os
import socket
from typing import Any

ALLOWED_ENV = "CPS1_TEST_ALLOWED_NETWORKS"
VIOLATIONS_ENV = "CPS1_TEST_NETGUARD_LOG"


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    names = os.environ.get(ALLOWED_ENV) or "127.0.0.0/8,::1/128"
    return [ipaddress.ip_network(n.strip()) for n in names.split(",") if n.strip()]


def is_allowed(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name: everything we start is reached by address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed_networks())


def check(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    host = str(address[0])
    if is_allowed(host):
        return
    message = f"pid {os.getpid()} tried to connect to {host}:{address[1]}: only loopback and the run's pods"
    log = os.environ.get(VIOLATIONS_ENV)
    if log:
        with open(log, "a") as out:
            out.write(message + "\n")
    raise ConnectionRefusedError(message)


def install() -> None:
    if getattr(socket.socket, "_cps1_guarded", False):
        return
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    # The guard patches the socket class in place, which is what the checker exists to stop.
    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.socket._cps1_guarded = True  # type: ignore[attr-defined]  # our marker on the class


if os.environ.get(VIOLATIONS_ENV):
    install()
