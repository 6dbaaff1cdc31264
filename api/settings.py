"""The api's configuration, read once from CPS1_API_* variables."""

import os
from dataclasses import dataclass

from common import accounts, envconfig
from common.workspace_limits import Limits, is_quantity_limit

MIN_PROXY_SECRET = 16


@dataclass(frozen=True)
class Settings:
    # Where users, keys and tokens live (see common/accounts.py).
    system_namespace: str = "cps1-system"
    kubeconfig: str = ""
    # The first admin, created at start-up when both are set; the token comes from a Secret.
    bootstrap_admin: str = ""
    bootstrap_token: str = ""
    # Users named here are admins whatever their ConfigMap says (proxy-header setups).
    admins: tuple[str, ...] = ()
    # Identity from an authenticating proxy (oauth2-proxy style): off unless a header is named,
    # and honoured only from these networks and with the proxy's shared secret in
    # proxy_secret_header (a source address alone is no proof: behind an Ingress every client
    # shares the controller's).
    proxy_user_header: str = ""
    proxy_trusted_networks: tuple[str, ...] = ("127.0.0.1/32",)
    proxy_secret_header: str = accounts.PROXY_SECRET_HEADER
    proxy_secret: str = ""
    # Peers whose X-Forwarded-For names the client (the Ingress controller), for throttling.
    forwarded_trusted_networks: tuple[str, ...] = ()
    # Failed authentications a source may make per window before it must wait.
    max_failed_auth: int = 20
    failed_auth_window_seconds: float = 60.0
    max_body_bytes: int = 64 * 1024
    # Bounds of a keep-alive a user may ask for.
    max_keep_alive_seconds: int = 7 * 24 * 3600
    # Every user's limits unless an admin set their own (common/workspace_limits.py); 0: no limit.
    max_workspaces_per_user: int = 20
    max_running_per_user: int = 5
    # ... and the CPU, memory and storage all of a user's Workspaces may request (quantities
    # such as 8, 16Gi, 200Gi); empty: no limit.
    max_cpu_per_user: str = ""
    max_memory_per_user: str = ""
    max_storage_per_user: str = ""

    @classmethod
    def from_env(cls, prefix: str = "CPS1_API_") -> "Settings":
        """Settings from CPS1_API_* variables (the kubeconfig also from KUBECONFIG)."""
        values = envconfig.values_from_env(cls, prefix)
        values.setdefault("kubeconfig", os.environ.get("KUBECONFIG", ""))
        return cls(**values)

    def default_limits(self) -> Limits:
        return Limits(
            self.max_workspaces_per_user,
            self.max_running_per_user,
            self.max_cpu_per_user,
            self.max_memory_per_user,
            self.max_storage_per_user,
        )

    def check(self) -> None:
        """Refuse settings that would open a hole (a proxy header without the proxy's secret) or
        that cannot be read (a limit that is not a quantity)."""
        for field in ("max_cpu_per_user", "max_memory_per_user", "max_storage_per_user"):
            value = getattr(self, field)
            if value and not is_quantity_limit(value):
                raise ValueError(f"CPS1_API_{field.upper()}: {value!r} is not a quantity (examples: 8, 500m, 16Gi)")
        if self.proxy_user_header and len(self.proxy_secret) < MIN_PROXY_SECRET:
            raise ValueError(
                f"CPS1_API_PROXY_USER_HEADER needs CPS1_API_PROXY_SECRET ({MIN_PROXY_SECRET}+ characters), "
                f"which the proxy sends in {self.proxy_secret_header}"
            )
