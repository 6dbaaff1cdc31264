"""What the hooks need to know about the installation, read once from the environment."""

from dataclasses import dataclass

from common import envconfig

MIN_SEED_LENGTH = 8


@dataclass(frozen=True)
class Settings:
    """Installation facts that shape every Workspace; the renderer gets them as an argument."""

    # Key for deriving per-Workspace secrets (code-server password, sshd host key) so that a
    # stateless hook produces the same values on every call. Required: see check().
    secret_seed: str = ""
    # authorized_keys line of the gateway's upstream key, installed in every Workspace.
    gateway_public_key: str = ""
    # Where the gateway runs, for the NetworkPolicy that lets it in.
    system_namespace: str = "cps1-system"
    # IDE routing: host-per-workspace when ide_domain is set (<name>.<ide_domain>), otherwise
    # a path under ide_base_url. Installations use a domain (the chart's default): each IDE is
    # then its own origin, so one user's page scripts (code-server's /proxy/) cannot reach the
    # console's or another IDE's. The path form is for a machine-local `cps1 dev up`.
    ide_domain: str = ""
    ide_base_url: str = "http://127.0.0.1:8080"
    # Port in host-per-workspace IDE URLs when the ingress controller listens on another port
    # than the scheme's (the local cluster's controller); 0: the scheme's.
    ide_port: int = 0
    ingress_class: str = ""
    # The api's forward-auth endpoint (e.g. http://api.cps1-system.svc/preview/auth): when set,
    # each Workspace's Ingress asks the ingress controller to check every request with it (IDE
    # owner-only, preview ports at their share level). Empty: no check by the platform, and no
    # preview URL is published (a port would be open to anyone who can reach the ingress).
    forward_auth_url: str = ""
    # Serve the IDE hosts over TLS with the ingress controller's default certificate (a
    # wildcard for *.<ide_domain>): a Secret named here could not be used, since each
    # Workspace's Ingress lives in the Workspace's own namespace.
    ide_tls: bool = False
    # Namespace label that identifies the ingress controller's namespace.
    ingress_namespace_label: str = "kubernetes.io/metadata.name=ingress-nginx"
    # Pod label of the IDE heartbeat prober (in the system namespace), let in to the IDE port.
    prober_pod_label: str = "app.kubernetes.io/component=ide-prober"
    # Where Workspaces may not send traffic, besides link-local: the cluster's own address
    # ranges. Defaults: the local cluster's (cps1/localcluster) Service range and the real
    # node's pod range; nodes default to every private range, since the internet is public.
    cluster_pod_cidrs: tuple[str, ...] = ("10.244.0.0/16",)
    cluster_service_cidrs: tuple[str, ...] = ("10.96.0.0/16",)
    cluster_node_cidrs: tuple[str, ...] = (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    )
    # The cluster DNS pods Workspaces may query (namespace name, pod label).
    dns_namespace: str = "kube-system"
    dns_pod_label: str = "k8s-app=kube-dns"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 2222
    # Longest wait before the next sync of a running Workspace (idle policy granularity).
    max_resync_seconds: int = 300

    @classmethod
    def from_env(cls, prefix: str = "CPS1_HOOKS_", require_seed: bool = True) -> "Settings":
        """Settings from CPS1_HOOKS_* variables (one prefix per component); unset ones keep their defaults.

        The hooks refuse to start without a seed: with an empty one every Workspace's password
        and host key would follow from its UID alone, which any API reader can see.
        """
        settings = cls(**envconfig.values_from_env(cls, prefix))
        if require_seed and len(settings.secret_seed) < MIN_SEED_LENGTH:
            raise ValueError(
                f"{prefix}SECRET_SEED must hold at least {MIN_SEED_LENGTH} characters of random text "
                "(the chart generates one; `cps1 dev up` keeps one in its state directory)"
            )
        return settings
