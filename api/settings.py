"""The api's configuration, read once from CPS1_API_* variables."""

import ipaddress
import os
from dataclasses import dataclass

from common import envconfig


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
    # and honoured only from these networks.
    proxy_user_header: str = ""
    proxy_trusted_networks: tuple[str, ...] = ("127.0.0.1/32",)
    max_body_bytes: int = 64 * 1024
    # Bounds of a keep-alive a user may ask for.
    max_keep_alive_seconds: int = 7 * 24 * 3600

    @classmethod
    def from_env(cls, prefix: str = "CPS1_API_") -> "Settings":
        """Settings from CPS1_API_* variables (the kubeconfig also from KUBECONFIG)."""
        values = envconfig.values_from_env(cls, prefix)
        values.setdefault("kubeconfig", os.environ.get("KUBECONFIG", ""))
        return cls(**values)

    def trusts_proxy(self, address: str | None) -> bool:
        if not self.proxy_user_header or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.proxy_trusted_networks)
