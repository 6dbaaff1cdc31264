"""The Helm chart without a cluster: lint, render every scenario in helm/cps1/ci, validate every
rendered object against the Kubernetes 1.36 schemas, the values schema, security defaults, and
that the chart's CRDs and CompositeController match the top-level ones."""

import re
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from common.workspace_limits import parse_group_limits
from cps1.localcluster.cluster import binaries
from tests.conftest import ROOT

CHART = ROOT / "helm" / "cps1"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
WORKLOADS = ("Deployment", "StatefulSet", "Job", "Pod")


@cache
def helm() -> str:
    return str(binaries(("helm",))["helm"] / "helm")


def run_helm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([helm(), *args], capture_output=True, text=True, check=False)


@cache
def render(values: Path | None = None, *sets: str) -> list[dict]:
    args = ["template", "cps1", str(CHART), "--namespace", "cps1-system", "--kube-version", "1.36.3", "--include-crds"]
    if values:
        args += ["-f", str(values)]
    for item in sets:
        args += ["--set", item]
    out = run_helm(*args)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def test_lint_strict() -> None:
    out = run_helm("lint", "--strict", str(CHART))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_every_rendered_object_is_valid(values: Path) -> None:
    vendored = CHART / "charts" / "metacontroller" / "crds" / "metacontroller-crds.yaml"
    crds = {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all(vendored.read_text()) if d}
    for doc in render(values):
        if doc["apiVersion"].startswith("metacontroller.k8s.io/"):
            schema = crds[doc["kind"]]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            jsonschema.Draft7Validator(schema).validate(doc)
        else:
            kubernetes_validate.validate(doc, "1.36", strict=True)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_workloads_run_non_root_with_nothing_extra(values: Path) -> None:
    for doc in render(values):
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["limits"]


def by_name(docs: list[dict], kind: str, suffix: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix))


def test_least_privilege_identities() -> None:
    docs = render()
    assert by_name(docs, "ServiceAccount", "-hooks")["automountServiceAccountToken"] is False
    assert by_name(docs, "ServiceAccount", "-console")["automountServiceAccountToken"] is False
    bound = {s["name"] for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding") for s in d["subjects"]}
    assert not any(name.endswith(("-hooks", "-console")) for name in bound)
    gateway = by_name(docs, "ClusterRole", "-gateway")
    assert gateway["rules"] == [
        {"apiGroups": ["cps1.io"], "resources": ["workspaces"], "verbs": ["get", "list", "watch", "patch"]}
    ]
    api_role = by_name(docs, "Role", "-api")
    assert api_role["rules"][0]["resources"] == ["configmaps", "secrets"]


def test_components_switch_off() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in render(CHART / "ci" / "minimal-values.yaml")}
    assert not any(name.endswith(("-console", "-gateway")) for _, name in kinds)
    assert not any(kind in ("Ingress", "NetworkPolicy") for kind, _ in kinds)
    assert any(kind == "StatefulSet" and "metacontroller" in name for kind, name in kinds)
    off = {(d["kind"], d["metadata"]["name"]) for d in render(CHART / "ci" / "no-metacontroller-values.yaml")}
    assert not any(kind == "StatefulSet" for kind, _ in off)
    assert ("CompositeController", "cps1-workspaces") in off


def test_tls_and_ide_domain_reach_ingress_and_hooks() -> None:
    docs = render(CHART / "ci" / "tls-values.yaml")
    assert by_name(docs, "Ingress", "cps1")["spec"]["tls"] == [
        {"hosts": ["cps1.example.com"], "secretName": "cps1-tls"}
    ]
    env = {
        e["name"]: e.get("value")
        for e in by_name(docs, "Deployment", "-hooks")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["CPS1_HOOKS_IDE_DOMAIN"] == "ws.example.com" and env["CPS1_HOOKS_IDE_TLS"] == "true"


def env_of(docs: list[dict], deployment: str) -> dict:
    containers = by_name(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in containers[0]["env"]}


def rules_of(docs: list[dict], kind: str, suffix: str) -> list[dict]:
    return list(by_name(docs, kind, suffix)["rules"])


def test_only_the_api_may_write_secrets_in_the_system_namespace() -> None:
    """Tokens are Secrets: an identity that can create Secrets could mint them. The gateway
    reads only its host key, which the keygen hook makes; the prober has its own identity."""
    docs = render()
    gateway = rules_of(docs, "Role", "-gateway")
    secret_rules = [r for r in gateway if "secrets" in r["resources"]]
    assert secret_rules == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["cps1-gateway-host-key"], "verbs": ["get"]}
    ]
    keygen = by_name(docs, "Job", "-gateway-keygen")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--host-key-secret=cps1-gateway-host-key" in keygen
    prober = by_name(docs, "Deployment", "-ide-prober")["spec"]["template"]["spec"]
    assert prober["serviceAccountName"] == "cps1-ide-prober"
    assert all("secrets" not in r["resources"] for r in rules_of(docs, "ClusterRole", "-ide-prober"))


def test_the_hooks_admit_only_metacontroller() -> None:
    """A /sync answer carries a Workspace's secrets: no other pod may ask for one."""
    for values in (None, CHART / "ci" / "no-metacontroller-values.yaml"):
        policy = by_name(render(values), "NetworkPolicy", "-hooks")["spec"]["ingress"][0]["from"]
        assert {} not in [peer.get("namespaceSelector") for peer in policy]
        assert all("podSelector" in peer and peer["podSelector"]["matchLabels"] for peer in policy)


def test_the_proxy_needs_its_secret_and_the_ingress_strips_identity() -> None:
    out = run_helm(
        "template", "cps1", str(CHART), "--kube-version", "1.36.3", "--set", "api.proxyUserHeader=X-Forwarded-User"
    )
    assert out.returncode != 0 and "api.proxySecretSecret" in out.stderr
    docs = render(None, "api.proxyUserHeader=X-Forwarded-User", "api.proxySecretSecret=proxy")
    assert env_of(docs, "-api")["CPS1_API_PROXY_SECRET"] == {"secretKeyRef": {"name": "proxy", "key": "secret"}}
    snippet = by_name(docs, "Ingress", "cps1")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/configuration-snippet"
    ]
    assert snippet == 'more_clear_input_headers "X-Forwarded-User" "X-CPS1-Proxy-Secret";'


def test_ides_get_their_own_origin_and_workspace_egress_ranges_by_default() -> None:
    env = env_of(render(), "-hooks")
    assert env["CPS1_HOOKS_IDE_DOMAIN"] == "ws.cps1.example.com"
    assert env["CPS1_HOOKS_CLUSTER_SERVICE_CIDRS"] == "10.96.0.0/16"
    assert env["CPS1_HOOKS_CLUSTER_POD_CIDRS"] == "10.244.0.0/16"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("bogus=1", "additional properties 'bogus' not allowed"),
        ("gateway.service.type=ClusterIP", "value must be one of 'LoadBalancer', 'NodePort'"),
        ("hooks.replicas=0", "/hooks/replicas"),
        ("api.bootstrapAdmin=Not_A_User", "/api/bootstrapAdmin"),
        ("ingress.tls.enabled=true", "/ingress/tls/secretName"),
        ("controller.hookTimeout=soon", "/controller/hookTimeout"),
        ("gateway.service.nodePort=80", "/gateway/service/nodePort"),
    ],
)
def test_schema_rejects_bad_values_with_a_clear_message(setting: str, message: str) -> None:
    out = run_helm("template", "cps1", str(CHART), "--kube-version", "1.36.3", "--set", setting)
    assert out.returncode != 0
    assert message in out.stderr


def test_chart_crds_are_the_top_level_crds() -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        assert (CHART / "crds" / path.name).read_text() == path.read_text(), path.name


def test_chart_compositecontroller_is_the_top_level_one() -> None:
    rendered = by_name(render(), "CompositeController", "cps1-workspaces")
    source = yaml.safe_load((ROOT / "metacontroller" / "workspace-controller.yaml").read_text())
    for hook in source["spec"]["hooks"].values():
        hook["webhook"]["service"] = {**hook["webhook"]["service"], "name": "cps1-hooks"}
    assert rendered["spec"] == source["spec"]


def test_every_value_is_documented() -> None:
    """Every key at the first two levels of values.yaml has a comment line right above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^(  )?[A-Za-z]+:", line):
            assert lines[number - 1].lstrip().startswith("#"), f"values.yaml:{number + 1}: {line.strip()}"


def test_metacontroller_may_manage_every_declared_child_and_nothing_more() -> None:
    """Metacontroller's ClusterRole is narrowed from upstream's `*`: each child kind the
    CompositeController declares gets full rights, no rule is a wildcard, and leader
    election (needed for replicas > 1) is on with a Lease it may write."""
    docs = render()
    controller = by_name(docs, "CompositeController", "cps1-workspaces")
    role = by_name(docs, "ClusterRole", "cps1-metacontroller")
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert not any("*" in (group, resource) or "*" in verbs for (group, resource), verbs in granted.items())
    for child in controller["spec"]["childResources"]:
        group = child["apiVersion"].rpartition("/")[0]
        assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= granted[(group, child["resource"])]
    parent = controller["spec"]["parentResource"]
    assert {"update"} <= granted[(parent["apiVersion"].split("/")[0], f"{parent['resource']}/status")]
    args = by_name(docs, "StatefulSet", "cps1-metacontroller")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election" in args and "--leader-election-namespace=cps1-system" in args
    lease = by_name(docs, "Role", "cps1-metacontroller-leader")
    assert lease["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        }
    ]


def test_user_limits_reach_the_api_and_the_gateway() -> None:
    docs = render(None, "userLimits.running=2", "userLimits.cpu=8")

    def env(suffix: str) -> dict[str, str]:
        deployment = by_name(docs, "Deployment", suffix)
        return {e["name"]: e.get("value", "") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}

    api, gateway = env("-api"), env("-gateway")
    assert api["CPS1_API_MAX_RUNNING_PER_USER"] == "2" and api["CPS1_API_MAX_CPU_PER_USER"] == "8"
    assert api["CPS1_API_MAX_WORKSPACES_PER_USER"] == "20" and api["CPS1_API_MAX_MEMORY_PER_USER"] == ""
    assert gateway["CPS1_GATEWAY_MAX_RUNNING_PER_USER"] == "2"
    assert run_helm("template", "t", str(CHART), "--kube-version", "1.36.3", "--set", "userLimits.cpu=lots").returncode


def test_group_limits_reach_the_api_and_the_gateway_and_bad_ones_are_refused() -> None:
    docs = render(None, "groupLimits.developers.running=3", "groupLimits.developers.cpu=8")
    for suffix, variable in (("-api", "CPS1_API_GROUP_LIMITS"), ("-gateway", "CPS1_GATEWAY_GROUP_LIMITS")):
        container = by_name(docs, "Deployment", suffix)["spec"]["template"]["spec"]["containers"][0]
        given = next(e["value"] for e in container["env"] if e["name"] == variable)
        assert parse_group_limits(given) == {"developers": {"running": 3, "cpu": "8"}}
    for bad in ("groupLimits.devs.running=-1", "groupLimits.devs.gpus=1", "groupLimits.devs.memory=lots"):
        assert run_helm("template", "t", str(CHART), "--kube-version", "1.36.3", "--set", bad).returncode, bad


def test_the_api_reads_only_secrets_named_workspace_outside_its_namespace() -> None:
    rules = by_name(render(None), "ClusterRole", "-api")["rules"]
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["workspace"], "verbs": ["get"]}]
