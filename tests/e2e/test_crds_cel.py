"""The real API server enforces the CRDs, CEL rules included: bad objects never reach a
controller."""

import copy
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import UnprocessibleEntityError

import kubeclient as kube
from tests.conftest import ROOT, load
from tests.support.cluster import Env

TEMPLATE = load(ROOT / "examples" / "templates" / "python.yaml")
WORKSPACE: dict[str, Any] = {
    "apiVersion": "cps1.io/v1alpha1",
    "kind": "Workspace",
    "metadata": {"name": "cel-ok"},
    "spec": {"owner": "alice", "template": "python", "running": False},
}


def rejected(env: Env, body: dict) -> str:
    with pytest.raises(UnprocessibleEntityError) as caught:
        kube.resource(env.client, body["apiVersion"], body["kind"]).create(body=body)
    return str(caught.value.body)


def test_examples_are_accepted_with_defaults(env: Env) -> None:
    template = copy.deepcopy(TEMPLATE)
    template["metadata"]["name"] = "cel-python"
    stored = kube.apply(env.client, template)
    assert stored["spec"]["ports"] == {"ide": 8080, "ssh": 2222}
    assert stored["spec"]["parameters"][0]["mutable"] is True
    ws = kube.apply(env.client, {**WORKSPACE, "spec": {**WORKSPACE["spec"], "template": "cel-python"}})
    assert ws["spec"]["storage"] == {"onDelete": "Delete"}
    kube.resource(env.client, "cps1.io/v1alpha1", "Workspace").delete(name="cel-ok")
    kube.resource(env.client, "cps1.io/v1alpha1", "WorkspaceTemplate").delete(name="cel-python")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metadata": {"name": "a" * 61}}, "at most 60 characters"),
        ({"spec": {"owner": "Alice"}}, "spec.owner"),
        ({"spec": {"sshAuthorizedKeys": ["password123"]}}, "sshAuthorizedKeys"),
        ({"spec": {"storage": {"size": "lots"}}}, "spec.storage.size"),
        ({"metadata": {"name": "3000--alice-dev"}}, "names a preview port's host"),
        ({"spec": {"ports": [{"port": 3000}, {"port": 3000, "share": "public"}]}}, "each port is listed once"),
        ({"spec": {"ports": [{"port": 8080}]}}, "cannot be exposed"),
        ({"spec": {"ports": [{"port": 80}]}}, "spec.ports[0].port"),
        ({"spec": {"ports": [{"port": 3000, "share": "everyone"}]}}, "spec.ports[0].share"),
    ],
)
def test_bad_workspaces_are_rejected(env: Env, change: dict, message: str) -> None:
    body = copy.deepcopy(WORKSPACE)
    for key, value in change.items():
        body[key] = {**body[key], **value}
    assert message in rejected(env, body)


def test_storage_only_grows_and_owner_is_immutable(env: Env) -> None:
    body = copy.deepcopy(WORKSPACE)
    body["metadata"]["name"] = "cel-grow"
    body["spec"]["storage"] = {"size": "10Gi"}
    kube.apply(env.client, body)
    try:
        shrink = copy.deepcopy(body)
        shrink["spec"]["storage"]["size"] = "5Gi"
        with pytest.raises(UnprocessibleEntityError, match="may only grow"):
            kube.apply(env.client, shrink)
        grow = copy.deepcopy(body)
        grow["spec"]["storage"]["size"] = "20Gi"
        assert kube.apply(env.client, grow)["spec"]["storage"]["size"] == "20Gi"
        steal = copy.deepcopy(grow)
        steal["spec"]["owner"] = "mallory"
        with pytest.raises(UnprocessibleEntityError, match="owner is immutable"):
            kube.apply(env.client, steal)
    finally:
        kube.resource(env.client, "cps1.io/v1alpha1", "Workspace").delete(name="cel-grow")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"resources": {"requests": {"cpu": "8"}, "limits": {"cpu": "4"}}}, "must not exceed resources.limits.cpu"),
        (
            {"resources": {"requests": {"memory": "9Gi"}, "limits": {"memory": "8Gi"}}},
            "must not exceed resources.limits.memory",
        ),
        ({"ports": {"ide": 2222, "ssh": 2222}}, "ports must differ"),
        ({"parameters": [{"name": "flavour", "type": "enum"}]}, "lists its choices"),
        ({"parameters": [{"name": "cpu", "type": "int", "bindTo": "cpu"}]}, "has type quantity"),
        ({"parameters": [{"name": "n", "type": "bool", "min": 1}]}, "only int and quantity"),
        (
            {"env": [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
            "exactly one of value",
        ),
        ({"image": "has spaces in it"}, "spec.image"),
    ],
)
def test_bad_templates_are_rejected(env: Env, spec: dict, message: str) -> None:
    body = {
        "apiVersion": "cps1.io/v1alpha1",
        "kind": "WorkspaceTemplate",
        "metadata": {"name": "cel-bad"},
        "spec": {"image": "x", **spec},
    }
    assert message in rejected(env, body)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"storage": {"size": "30Gi", "maxSize": "20Gi"}}, "storage.size must not exceed storage.maxSize"),
        ({"idleTimeoutSeconds": 0, "maxIdleTimeoutSeconds": 3600}, "between 1 and maxIdleTimeoutSeconds"),
        ({"idleTimeoutSeconds": 7200, "maxIdleTimeoutSeconds": 3600}, "between 1 and maxIdleTimeoutSeconds"),
        ({"network": {"egressAllow": [{"cidr": "10.0.0.0/8", "ports": [0]}]}}, "spec.network.egressAllow"),
        ({"previews": {"maxShare": "world"}}, "spec.previews.maxShare"),
        ({"previews": {"defaultPorts": [{"port": 3000}, {"port": 3000}]}}, "each default port is listed once"),
    ],
)
def test_templates_keep_within_their_own_maxima(env: Env, spec: dict, message: str) -> None:
    body = copy.deepcopy(TEMPLATE)
    body["metadata"] = {"name": "cel-capped"}
    body["spec"].update(spec)
    assert message in rejected(env, body)
