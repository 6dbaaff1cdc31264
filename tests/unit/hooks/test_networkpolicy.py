"""The Workspace NetworkPolicy read as a packet filter: which destinations and sources it admits."""

import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from hooks import model
from hooks.render.networkpolicy import render_network_policy
from tests.unit.hooks import factories


def _policy(template: dict, **settings: Any) -> dict:
    ws, errors = model.resolve(factories.parent(), template)
    assert errors == []
    assert ws is not None
    return render_network_policy(ws, replace(factories.SETTINGS, **settings))["spec"]


def egress_allows(spec: dict, address: str, port: int) -> bool:
    """Whether some egress rule's ipBlock admits `address` on `port` (NetworkPolicy semantics)."""
    ip = ipaddress.ip_address(address)
    for rule in spec["egress"]:
        ports = rule.get("ports")
        if ports and not any(p["port"] == port for p in ports):
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if not block or ip.version != ipaddress.ip_network(block["cidr"]).version:
                continue
            inside = ip in ipaddress.ip_network(block["cidr"])
            if inside and not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.96.0.1", "the Kubernetes API Service"),
        ("10.244.3.7", "another pod"),
        ("192.168.1.10", "a node (kubelet, node ports)"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "another link-local metadata address"),
        ("100.100.100.200", "a CGNAT-range metadata address"),
        ("fd00:ec2::254", "IPv6 cloud metadata"),
        ("fe80::1", "IPv6 link-local"),
    ],
)
def test_the_cluster_and_link_local_are_unreachable(python_template: dict, address: str, why: str) -> None:
    assert not egress_allows(_policy(python_template), address, 443), why


def test_the_internet_and_dns_are_reachable(python_template: dict) -> None:
    spec = _policy(python_template)
    assert egress_allows(spec, "140.82.112.3", 443)
    assert egress_allows(spec, "2606:50c0:8000::153", 443)
    dns = [rule for rule in spec["egress"] if {"protocol": "UDP", "port": 53} in rule.get("ports", [])]
    assert dns[0]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_installation_ranges_are_settings(python_template: dict) -> None:
    spec = _policy(python_template, cluster_pod_cidrs=("172.30.0.0/16",), cluster_node_cidrs=())
    assert not egress_allows(spec, "172.30.1.1", 443)
    assert egress_allows(spec, "192.168.1.10", 443)


def test_a_template_allow_list_opens_ranges_and_ports(python_template: dict) -> None:
    python_template["spec"]["network"] = {"egressAllow": [{"cidr": "10.50.0.0/24", "ports": [5432]}]}
    spec = _policy(python_template)
    assert egress_allows(spec, "10.50.0.9", 5432)
    assert not egress_allows(spec, "10.50.0.9", 22)
    assert not egress_allows(spec, "10.50.1.9", 5432)


@pytest.mark.parametrize("entry", [{"cidr": "10.50.0.1/24"}, {"cidr": "nowhere"}, {"cidr": "10.0.0.0/8", "ports": [0]}])
def test_a_bad_allow_list_entry_is_a_template_error(python_template: dict, entry: dict) -> None:
    python_template["spec"]["network"] = {"egressAllow": [entry]}
    ws, errors = model.resolve(factories.parent(), python_template)
    assert ws is None
    assert "egressAllow" in errors[0]


def test_the_ide_port_admits_the_ingress_controller_and_the_prober(python_template: dict) -> None:
    ide = next(rule for rule in _policy(python_template)["ingress"] if rule["ports"][0]["port"] == "ide")
    prober = next(peer for peer in ide["from"] if "podSelector" in peer)
    assert prober == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cps1-system"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "ide-prober"}},
    }
