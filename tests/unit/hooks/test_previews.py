"""Preview ports in the hooks: an Ingress rule, a Service port and a NetworkPolicy port per
served port, URLs in status, and a condition (never a failure) for ports not served as asked."""

import copy
from dataclasses import replace
from typing import Any

from common import crd
from hooks.reconcile import workspace
from hooks.settings import Settings
from tests.unit.hooks import factories

SETTINGS = replace(
    factories.SETTINGS,
    ide_domain="ws.example.com",
    ingress_class="cps1",
    forward_auth_url="http://api.cps1-system.svc/preview/auth",
)
PORTS = [{"port": 3000, "name": "web", "share": "public"}, {"port": 8080}]


def _children(template: dict, settings: Settings = SETTINGS, **spec: Any) -> tuple[dict, Any]:
    answer, _ = factories.converged(factories.parent(**spec), template, settings)
    return {c["kind"]: c for c in answer["children"]}, answer["status"]


def _capped(template: dict) -> dict:
    capped = copy.deepcopy(template)
    capped["spec"]["previews"] = {"maxShare": "authenticated"}
    return capped


def test_each_served_port_gets_a_host_a_service_port_and_a_policy_port(python_template: dict) -> None:
    children, status = _children(_capped(python_template), ports=PORTS)
    ingress = children["Ingress"]
    assert ingress["metadata"]["annotations"] == {crd.ANNOTATION_FORWARD_AUTH_URL: SETTINGS.forward_auth_url}
    assert [
        (r["host"], r["http"]["paths"][0]["backend"]["service"]["port"]["name"]) for r in ingress["spec"]["rules"]
    ] == [
        ("alice-dev.ws.example.com", "ide"),
        ("3000--alice-dev.ws.example.com", "p3000"),
    ]
    assert {"name": "p3000", "port": 3000, "targetPort": 3000, "protocol": "TCP"} in children["Service"]["spec"][
        "ports"
    ]
    ingress_rules = children["NetworkPolicy"]["spec"]["ingress"]
    assert ingress_rules[1]["ports"] == [{"protocol": "TCP", "port": 3000}]
    assert status["ports"] == [
        {"port": 3000, "name": "web", "share": "authenticated", "url": "http://3000--alice-dev.ws.example.com/"}
    ]
    ports_allowed = next(c for c in status["conditions"] if c["type"] == "PortsAllowed")
    assert ports_allowed["status"] == "False"
    assert "above this template's maximum of authenticated" in ports_allowed["message"]
    assert "port 8080 is the workspace's IDE port" in ports_allowed["message"]
    assert status["phase"] == crd.PHASE_RUNNING


def test_without_forward_auth_no_port_is_published(python_template: dict) -> None:
    children, status = _children(python_template, replace(SETTINGS, forward_auth_url=""), ports=PORTS)
    assert len(children["Ingress"]["spec"]["rules"]) == 1
    assert "annotations" not in children["Ingress"]["metadata"]
    assert [p["name"] for p in children["Service"]["spec"]["ports"]] == ["ide", "ssh"]
    assert len(children["NetworkPolicy"]["spec"]["ingress"]) == 2
    assert "ports" not in status


def test_template_default_ports_are_served(python_template: dict) -> None:
    template = copy.deepcopy(python_template)
    template["spec"]["previews"] = {"defaultPorts": [{"port": 8888, "name": "notebook"}]}
    _, status = _children(template)
    assert [(p["port"], p["share"]) for p in status["ports"]] == [(8888, "owner")]


def test_a_failed_workspace_keeps_its_port_urls(python_template: dict) -> None:
    _, status = _children(python_template, ports=PORTS)
    parent = factories.parent(template="gone", ports=PORTS)
    parent["status"] = status
    answer = workspace.sync(parent, factories.children_map([]), {}, now=factories.NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == crd.PHASE_FAILED
    assert answer["status"]["ports"] == status["ports"]
