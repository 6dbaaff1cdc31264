"""Default-deny NetworkPolicy: in from the ingress controller and the gateway only; out
anywhere except the cloud metadata address."""

from common import labels, names
from hooks.render.model import WorkspaceModel
from hooks.settings import Settings

METADATA_ADDRESSES = ["169.254.169.254/32"]
METADATA_ADDRESSES_V6 = ["fd00:ec2::254/128"]


def _namespace_selector(label: str) -> dict:
    key, _, value = label.partition("=")
    return {"matchLabels": {key: value}}


def render_network_policy(ws: WorkspaceModel, settings: Settings) -> dict:
    from_ingress = {"namespaceSelector": _namespace_selector(settings.ingress_namespace_label)}
    from_gateway = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.system_namespace}},
        "podSelector": {"matchLabels": {labels.APP_COMPONENT: "gateway"}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ws.metadata(names.NETWORK_POLICY, "network"),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [from_ingress], "ports": [{"protocol": "TCP", "port": "ide"}]},
                {"from": [from_gateway], "ports": [{"protocol": "TCP", "port": "ssh"}]},
            ],
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": METADATA_ADDRESSES}},
                        {"ipBlock": {"cidr": "::/0", "except": METADATA_ADDRESSES_V6}},
                    ]
                }
            ],
        },
    }
