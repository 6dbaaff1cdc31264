"""What the hooks need to know about the installation, read once from the environment."""

from dataclasses import dataclass

from common import envconfig


@dataclass(frozen=True)
class Settings:
    """Installation facts that shape every Workspace; the renderer gets them as an argument."""

    # Key for deriving per-Workspace secrets (code-server password, sshd host key) so that a
    # stateless hook produces the same values on every call. Empty: derived from the UID only.
    secret_seed: str = ""
    # authorized_keys line of the gateway's upstream key, installed in every Workspace.
    gateway_public_key: str = ""
    # Where the gateway runs, for the NetworkPolicy that lets it in.
    system_namespace: str = "cps1-system"
    # IDE routing: host-per-workspace when ide_domain is set (<name>.<ide_domain>), otherwise
    # a path under ide_base_url.
    ide_domain: str = ""
    ide_base_url: str = "http://127.0.0.1:8080"
    # Port in host-per-workspace IDE URLs when the ingress controller listens on another port
    # than the scheme's (the local cluster's controller); 0: the scheme's.
    ide_port: int = 0
    ingress_class: str = ""
    ingress_tls_secret: str = ""
    # Namespace label that identifies the ingress controller's namespace.
    ingress_namespace_label: str = "kubernetes.io/metadata.name=ingress-nginx"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 2222
    # Longest wait before the next sync of a running Workspace (idle policy granularity).
    max_resync_seconds: int = 300

    @classmethod
    def from_env(cls, prefix: str = "CPS1_") -> "Settings":
        """Settings from CPS1_* variables; unset ones keep their defaults."""
        return cls(**envconfig.values_from_env(cls, prefix))
