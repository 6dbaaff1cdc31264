"""The gateway's configuration, read once from CPS1_GATEWAY_* variables.

Defaults are safe for a laptop (loopback listeners) and sensible for a cluster; the Helm chart
sets the listen addresses, the key paths and the limits.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from common import envconfig, names
from common.workspace_limits import GroupLimits, parse_group_limits
from gateway.limits import MaxStartups


def split_address(text: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) as a (host, port) pair; ValueError names the problem."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Settings:
    # Where clients connect, and the side port for /healthz, /readyz and /metrics.
    listen: str = "127.0.0.1:2222"
    health_listen: str = "127.0.0.1:9102"
    # Kubernetes: a kubeconfig path, or empty for in-cluster config (then $KUBECONFIG).
    kubeconfig: str = ""
    # Where users' keys live (common/accounts.py) and the gateway's host key Secret.
    system_namespace: str = "cps1-system"
    host_key_secret: str = "cps1-gateway-host-key"
    # A host key file instead of the Secret (read-only deployments mount it).
    host_key_file: str = ""
    # The Workspace's sshd, as a format string over {workspace}, {namespace} and {service_ip}
    # (the Workspace Service's cluster IP, read from the API: for a gateway outside the cluster's
    # DNS, as `cps1 dev up` runs it). In a cluster it is the Service's DNS name.
    upstream: str = f"{names.SERVICE}.{{namespace}}.svc:22"
    upstream_user: str = "coder"
    # The private half of the key the hooks install in every Workspace's authorized_keys.
    upstream_key_file: str = "/etc/cps1-gateway/upstream/id_ed25519"
    # Pin the Workspace sshd's host key to the one the hooks publish in the Workspace's status.
    verify_upstream_host_key: bool = True
    # Relay `ssh -A` (OpenSSH's AllowAgentForwarding, on by default there too): root in a
    # Workspace can use a connected user's agent while their session is open.
    agent_forwarding: bool = True
    upstream_connect_timeout_seconds: float = 20.0
    # Logins share their reads of Workspaces and users' keys for this long (gateway/lookups.py):
    # a revoked key or a deleted Workspace lets no new connection in after it.
    lookup_cache_seconds: float = 5.0
    # Limits.
    max_connections: int = 1000
    max_connections_per_user: int = 20
    max_channels_per_connection: int = 64
    # Across all of a user's connections.
    max_channels_per_user: int = 128
    # What all relayed channels together may buffer (limits.ChannelBudget): each reserves its
    # worst case, ~3.5 MiB with the default windows, ~180 KiB with small ones.
    buffer_budget_mib: int = 512
    # The windows of channels past the first half of the budget, or past a user's first
    # `full_windows_per_user` channels (Paramiko's minimum is 32 KiB).
    small_window_size: int = 32 * 1024
    full_windows_per_user: int = 8
    max_auth_tries: int = 6
    # Failed logins (a denied key, a forged signature, another method, a login not finished
    # within its grace time) per source (IPv4 address, IPv6 /64) before it is refused.
    auth_failures_per_source: int = 30
    auth_failure_window_seconds: float = 60.0
    # Unauthenticated connections: OpenSSH's MaxStartups start:rate:full over all sources, and
    # at most this many per source (OpenSSH's PerSourceMaxStartups).
    max_startups: str = "100:30:300"
    max_startups_per_source: int = 20
    # From the TCP connection to the first authentication request (version and key exchange):
    # what a silent socket may hold. 20 s, because in a login storm on a loaded machine OpenSSH
    # clients took over 10 s to send their version (bench/gateway.py, 200 sessions).
    handshake_grace_seconds: float = 20.0
    # From the TCP connection to authenticated: room for a passphrase or a security key touch.
    login_grace_seconds: float = 60.0
    # A connection with no channel data either way for this long is closed (0: never).
    idle_timeout_seconds: float = 3600.0
    # Starting a stopped Workspace.
    start_timeout_seconds: float = 300.0
    # Workspaces a user may run at once unless an admin set their own limit (0: no limit);
    # the same default as the API's, so connecting never starts more than the console would.
    max_running_per_user: int = 5
    # ... and per group (JSON, the API's CPS1_API_GROUP_LIMITS; only "running" matters here).
    group_limits: str = ""
    # A Workspace stopped as idle less than this long ago is restarted only by a real session
    # (shell, exec, subsystem), not by a port-forward or a bare reconnect.
    restart_grace_seconds: float = 300.0
    # At most one activity write per Workspace per interval while sessions are open.
    activity_interval_seconds: float = 60.0
    # SSH tuning (see gateway/transport.py for why these values).
    window_size: int = 2 * 1024 * 1024
    # The window the gateway advertises to Workspace sshds (0: window_size). In-cluster round
    # trips are short: 512 KiB covers 1.7 ms at 300 MB/s, and it halves the memory a busy
    # download holds in the gateway (bench/gateway.py: 100 downloads peaked at 192 MiB, not 336).
    upstream_window_size: int = 512 * 1024
    max_packet_size: int = 32768
    ciphers: tuple[str, ...] = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
    # Also offered to clients not known to speak GCM (see transport.ciphers_for).
    fallback_ciphers: tuple[str, ...] = ("aes128-ctr", "aes256-ctr")
    rekey_bytes: int = 2**32
    keepalive_seconds: int = 30
    # On SIGTERM: stop accepting, let sessions finish for this long, then close them.
    drain_seconds: float = 20.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, prefix: str = "CPS1_GATEWAY_", environ: dict[str, str] | None = None) -> "Settings":
        """Settings from `prefix`+FIELD variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        values = envconfig.values_from_env(cls, prefix, env)
        if "kubeconfig" not in values and env.get("KUBECONFIG"):
            values["kubeconfig"] = env["KUBECONFIG"]
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        split_address(self.listen)
        split_address(self.health_listen)
        try:
            self.upstream_address("example", service_ip=lambda namespace: "10.0.0.1")
        except (KeyError, IndexError) as err:
            raise ValueError("CPS1_GATEWAY_UPSTREAM may use only {workspace}, {namespace} and {service_ip}") from err
        counts = (self.max_connections, self.max_connections_per_user, self.max_startups_per_source)
        if min(counts) < 1 or self.max_channels_per_user < 1 or self.buffer_budget_mib < 1:
            raise ValueError("connection limits must be at least 1")
        MaxStartups.parse(self.max_startups)
        try:
            _ = self.limits_by_group  # parsed once, here and for every later use
        except ValueError as err:
            raise ValueError(f"CPS1_GATEWAY_GROUP_LIMITS: {err}") from err

    @cached_property
    def limits_by_group(self) -> GroupLimits:
        return parse_group_limits(self.group_limits)

    def upstream_address(self, workspace: str, service_ip: Callable[[str], str] | None = None) -> tuple[str, int]:
        """Where the Workspace's sshd listens, from the `upstream` format string; `service_ip`
        looks up a namespace's Workspace Service address, only when the string asks for it."""
        namespace = names.namespace_for(workspace)
        values = {"workspace": workspace, "namespace": namespace}
        if "{service_ip}" in self.upstream:
            if service_ip is None:
                raise ValueError("CPS1_GATEWAY_UPSTREAM uses {service_ip} but no lookup was given")
            values["service_ip"] = service_ip(namespace)
        return split_address(self.upstream.format(**values))
