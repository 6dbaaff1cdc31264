"""The chart's NetworkPolicies read as rules, not as presence: who may open a connection to
which CPS1 pod and port, evaluated over the rendered policies with the labels the chart gives
its own pods. (Enforcement by a real controller is tested on the real node.)"""

from dataclasses import dataclass

import pytest

from tests.unit.chart.test_chart import render

RELEASE_NS = "cps1-system"


@dataclass(frozen=True)
class Peer:
    labels: dict[str, str]
    namespace: str
    namespace_labels: dict[str, str]


def matches(selector: dict, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions In/NotIn/Exists/DoesNotExist)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def peer_allowed(rule_peer: dict, source: Peer, policy_ns: str) -> bool:
    if "ipBlock" in rule_peer:
        return False  # the chart gives none; a source here is a pod
    ns_selector, pod_selector = rule_peer.get("namespaceSelector"), rule_peer.get("podSelector")
    in_namespace = (
        matches(ns_selector, source.namespace_labels) if ns_selector is not None else source.namespace == policy_ns
    )
    return in_namespace and (pod_selector is None or matches(pod_selector, source.labels))


def port_allowed(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def allowed(policies: list[dict], source: Peer, target: Peer, port: int) -> bool:
    """Kubernetes' ingress semantics: a pod selected by any ingress policy accepts only what one
    of their rules allows; a pod selected by none accepts everything."""
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace", RELEASE_NS) == target.namespace
        and matches(p["spec"]["podSelector"], target.labels)
        and "Ingress" in (p["spec"].get("policyTypes") or ["Ingress"])
    ]
    if not selecting:
        return True
    return any(
        port_allowed(rule, port)
        and ("from" not in rule or any(peer_allowed(peer, source, target.namespace) for peer in rule["from"]))
        for policy in selecting
        for rule in policy["spec"].get("ingress") or []
    )


def pod_labels(docs: list[dict], kind: str, name_suffix: str) -> dict[str, str]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, [d["metadata"]["name"] for d in found]
    return dict(found[0]["spec"]["template"]["metadata"]["labels"])


@pytest.fixture(scope="module")
def world() -> tuple[list[dict], dict[str, Peer]]:
    docs = render(None)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    release = {"kubernetes.io/metadata.name": RELEASE_NS}

    def ours(kind: str, suffix: str) -> Peer:
        return Peer(pod_labels(docs, kind, suffix), RELEASE_NS, release)

    peers = {
        "hooks": ours("Deployment", "-hooks"),
        "api": ours("Deployment", "-api"),
        "prober": ours("Deployment", "-ide-prober"),
        "console": ours("Deployment", "-console"),
        "gateway": ours("Deployment", "-gateway"),
        "metacontroller": ours("StatefulSet", "metacontroller"),
        "helm-test": Peer({"app.kubernetes.io/component": "test"}, RELEASE_NS, release),
        "ingress-controller": Peer(
            {"app.kubernetes.io/name": "ingress-nginx"},
            "ingress-nginx",
            {"kubernetes.io/metadata.name": "ingress-nginx"},
        ),
        "workspace": Peer(
            {"app.kubernetes.io/name": "workspace", "cps1.io/workspace": "dev"},
            "ws-dev",
            {"kubernetes.io/metadata.name": "ws-dev"},
        ),
        "elsewhere": Peer({"app": "x"}, "default", {"kubernetes.io/metadata.name": "default"}),
    }
    return policies, peers


# Every pod of the release (its own namespace).
RELEASE = {"hooks", "api", "prober", "console", "gateway", "metacontroller", "helm-test"}
# (target, port): the sources that may connect; every other source is refused.
EXPECTED = {
    ("hooks", 8080): {"metacontroller", "helm-test"},
    ("api", 8080): RELEASE | {"ingress-controller"},
    ("console", 8501): RELEASE | {"ingress-controller"},
    ("gateway", 2222): "everyone",
    ("gateway", 9102): RELEASE,
    ("metacontroller", 9999): set(),
    ("prober", 8080): set(),
}


@pytest.mark.parametrize(("target", "port"), sorted(EXPECTED))
def test_who_may_connect(world: tuple[list[dict], dict[str, Peer]], target: str, port: int) -> None:
    policies, peers = world
    may = {name for name, source in peers.items() if allowed(policies, source, peers[target], port)}
    expected = set(peers) if EXPECTED[(target, port)] == "everyone" else EXPECTED[(target, port)]
    assert may == expected


def test_the_evaluator_refuses_and_allows(world: tuple[list[dict], dict[str, Peer]]) -> None:
    """The evaluator itself: without the chart's policies everything is open, so the refusals
    above come from the policies."""
    _, peers = world
    assert allowed([], peers["workspace"], peers["hooks"], 8080)
    assert not allowed(
        [{"metadata": {"namespace": RELEASE_NS}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}],
        peers["api"],
        peers["hooks"],
        8080,
    )
