"""The api's configuration, read once from CPS1_API_* variables."""

import os
from dataclasses import dataclass
from functools import cached_property

from common import accounts, envconfig
from common.workspace_limits import GroupLimits, Limits, is_quantity_limit, parse_group_limits

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
    # Preview URLs and the IDE behind /preview/auth (api/preview_auth.py): the IDE domain the
    # hooks publish Workspaces under, the key that signs grants and session cookies (off when
    # empty), where a signed-out browser is sent (the console, which sends it back), and how
    # long a Workspace read serves the per-request checks (a share change applies within it).
    preview_domain: str = ""
    preview_secret: str = ""
    preview_sign_in_url: str = ""
    preview_cache_seconds: float = 2.0
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
    # Limits per group, over the defaults above (JSON: {"developers": {"running": 3}}; see
    # common/workspace_limits.py for how a user's own, their groups' and the default combine).
    group_limits: str = ""
    # Sign-in through the company's OpenID Provider (docs/sso.md); off while the issuer is empty.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # The public client `cps1 login --oidc` uses (device authorization grant); empty: no CLI sign-in.
    oidc_cli_client_id: str = ""
    oidc_scopes: str = "openid email profile groups"
    # The claim that names the user (preferred_username, or email: its local part), and the one
    # that lists their groups; members of oidc_admin_groups are admins (refreshed each sign-in).
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_admin_groups: tuple[str, ...] = ()
    # What the console's "Sign in with ..." button calls the provider.
    oidc_provider_name: str = "SSO"
    # The api's URL as browsers reach it (the provider sends them back to <it>/api/v1/oidc/callback).
    public_url: str = ""
    # The console's URL as browsers reach it: where sign-in and sign-out end.
    console_url: str = ""
    # How long a browser or CLI sign-in lasts; ID tokens may be this many seconds off our clock.
    oidc_session_hours: int = 12
    oidc_leeway_seconds: int = 60
    # The session cookie is sent over HTTPS only (off only for plain-HTTP loopback setups).
    session_cookie_secure: bool = True

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

    @cached_property
    def limits_by_group(self) -> GroupLimits:
        return parse_group_limits(self.group_limits)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    def check(self) -> None:
        """Refuse settings that would open a hole (a proxy header without the proxy's secret) or
        that cannot be read (a limit that is not a quantity)."""
        for field in ("max_cpu_per_user", "max_memory_per_user", "max_storage_per_user"):
            value = getattr(self, field)
            if value and not is_quantity_limit(value):
                raise ValueError(f"CPS1_API_{field.upper()}: {value!r} is not a quantity (examples: 8, 500m, 16Gi)")
        try:
            _ = self.limits_by_group  # parsed once, here and for every later use
        except ValueError as err:
            raise ValueError(f"CPS1_API_GROUP_LIMITS: {err}") from err
        if self.preview_secret and (len(self.preview_secret) < MIN_PROXY_SECRET or not self.preview_domain):
            raise ValueError(
                f"CPS1_API_PREVIEW_SECRET needs {MIN_PROXY_SECRET}+ characters and CPS1_API_PREVIEW_DOMAIN "
                "(the hooks' IDE domain)"
            )
        if self.proxy_user_header and len(self.proxy_secret) < MIN_PROXY_SECRET:
            raise ValueError(
                f"CPS1_API_PROXY_USER_HEADER needs CPS1_API_PROXY_SECRET ({MIN_PROXY_SECRET}+ characters), "
                f"which the proxy sends in {self.proxy_secret_header}"
            )
        if self.oidc_enabled:
            missing = [
                f for f in ("oidc_client_id", "oidc_client_secret", "public_url", "console_url") if not getattr(self, f)
            ]
            if missing:
                names = ", ".join(f"CPS1_API_{f.upper()}" for f in missing)
                raise ValueError(f"CPS1_API_OIDC_ISSUER needs {names}")
