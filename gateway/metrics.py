"""The gateway's Prometheus metrics, in a registry per gateway (tests run several in one process)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
START_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("cps1_gateway_connections", "Open client connections", registry=r)
        self.sessions = Gauge("cps1_gateway_channels", "Open relayed channels by kind", ["kind"], registry=r)
        self.connections_total = Counter(
            "cps1_gateway_connections_closed_total", "Client connections ended, by outcome", ["outcome"], registry=r
        )
        self.rejected = Counter(
            "cps1_gateway_rejected_connections_total", "Connections refused by a limit", ["limit"], registry=r
        )
        self.revoked = Counter(
            "cps1_gateway_revoked_connections_total",
            "Open connections ended because their user was disabled or deleted, by reason",
            ["reason"],
            registry=r,
        )
        self.auth_failures = Counter(
            "cps1_gateway_auth_failures_total", "Failed authentication attempts by reason", ["reason"], registry=r
        )
        self.bytes = Counter(
            "cps1_gateway_bytes_total",
            "Channel payload bytes relayed; up is client to workspace",
            ["direction"],
            registry=r,
        )
        self.bytes_up = self.bytes.labels("up")
        self.bytes_down = self.bytes.labels("down")
        self.connect_latency = Histogram(
            "cps1_gateway_upstream_connect_seconds",
            "Dial, key exchange and authentication to a Workspace sshd",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "cps1_gateway_upstream_errors_total", "Failed connections to a Workspace sshd", registry=r
        )
        self.starts = Counter(
            "cps1_gateway_workspace_starts_total",
            "Workspace starts by connections, by result",
            ["result"],
            registry=r,
        )
        self.start_latency = Histogram(
            "cps1_gateway_workspace_start_seconds",
            "From a start request to Running",
            buckets=START_BUCKETS,
            registry=r,
        )
        self.activity_writes = Counter(
            "cps1_gateway_activity_writes_total", "Activity annotations written, by result", ["result"], registry=r
        )
