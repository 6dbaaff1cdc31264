"""Ports for the local cluster's servers: never from the range outgoing connections use."""

from pathlib import Path

from cps1.localcluster import processes


def test_free_ports_are_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {processes.free_port() for _ in range(100)}
    assert all(1024 <= port < low for port in ports)
    assert len(ports) > 50  # spread out, so concurrent callers rarely pick the same one
