"""Default-deny NetworkPolicy of a Workspace.

In: the IDE port from the ingress controller and the IDE prober, the SSH port from the gateway,
each served preview port from the ingress controller (no other port of the pod is reachable).
Out: the cluster DNS, and the internet, which excludes the cluster's own pod, Service and node
ranges and link-local (cloud metadata): code in a Workspace is untrusted and must not reach
the Kubernetes API, kubelets, node ports or other tenants' Services. A template may allow
more destinations (an admin's decision, e.g. a shared database), by address range and port.
"""

import ipaddress
from collections.abc import Iterable
from typing import Any

from common import labels, names
from hooks import access
from hooks.model import EgressRule, WorkspaceModel
from hooks.settings import Settings

# Never reachable whatever the installation says: link-local holds every cloud's metadata
# service (169.254.169.254, fd00:ec2::254 is AWS's IPv6 one).
LINK_LOCAL = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def _pair(label: str) -> dict[str, str]:
    key, _, value = label.partition("=")
    return {key: value}


def internet_blocks(blocked: Iterable[str]) -> list[dict[str, Any]]:
    """ipBlocks for everything but `blocked`, one per IP family, exceptions merged and sorted."""
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in blocked]
    out = []
    for everything in EVERYWHERE:
        same_family = [n for n in networks if n.version == everything.version]
        excepted = ipaddress.collapse_addresses(same_family)  # type: ignore[type-var]  # one IP family per call; the stub cannot see that
        out.append({"ipBlock": {"cidr": str(everything), "except": [str(n) for n in excepted]}})
    return out


def _system_pods(settings: Settings, label: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.system_namespace}},
        "podSelector": {"matchLabels": _pair(label)},
    }


def _allowed(rule: EgressRule) -> dict[str, Any]:
    out: dict[str, Any] = {"to": [{"ipBlock": {"cidr": rule.cidr}}]}
    if rule.ports:
        out["ports"] = [{"protocol": protocol, "port": port} for port in rule.ports for protocol in ("TCP", "UDP")]
    return out


def render_network_policy(ws: WorkspaceModel, settings: Settings) -> dict[str, Any]:
    from_ingress = {"namespaceSelector": {"matchLabels": _pair(settings.ingress_namespace_label)}}
    from_prober = _system_pods(settings, settings.prober_pod_label)
    from_gateway = _system_pods(settings, f"{labels.APP_COMPONENT}=gateway")
    to_dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.dns_namespace}},
                "podSelector": {"matchLabels": _pair(settings.dns_pod_label)},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    preview_ports = access.served_ports(ws, settings)
    blocked = [*settings.cluster_pod_cidrs, *settings.cluster_service_cidrs, *settings.cluster_node_cidrs, *LINK_LOCAL]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ws.metadata(names.NETWORK_POLICY, "network"),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [from_ingress, from_prober], "ports": [{"protocol": "TCP", "port": "ide"}]},
                *(
                    [{"from": [from_ingress], "ports": [{"protocol": "TCP", "port": p.port} for p in preview_ports]}]
                    if preview_ports
                    else []
                ),
                {"from": [from_gateway], "ports": [{"protocol": "TCP", "port": "ssh"}]},
            ],
            "egress": [to_dns, {"to": internet_blocks(blocked)}, *(_allowed(rule) for rule in ws.egress_allow)],
        },
    }
