"""The hooks HTTP layer: routes, the 200-versus-error policy, health and metrics."""

import json
import random

import pytest
from flask.testing import FlaskClient

from common import usersecrets
from hooks import app as hooks_app
from hooks.reconcile import workspace
from tests.unit.hooks import factories
from tests.unit.hooks.factories import NOW, SETTINGS, parent, related


@pytest.fixture
def client() -> FlaskClient:
    return hooks_app.create_app(SETTINGS, clock=lambda: NOW).test_client()


def test_sync_answers_children_and_status(client: FlaskClient, python_template: dict) -> None:
    _, children = factories.converged(parent(), python_template)
    body = factories.request_body(children, python_template)
    response = client.post("/sync", json=body)
    assert response.status_code == 200
    answer = response.get_json()
    assert set(answer) == {"status", "children", "resyncAfterSeconds"}
    assert answer["status"]["phase"] == "Running"
    assert len(answer["children"]) == 10


def test_finalizing_request_is_answered_by_finalize(client: FlaskClient) -> None:
    body = {"parent": parent(), "children": factories.children_map([]), "related": {}, "finalizing": True}
    answer = client.post("/finalize", json=body).get_json()
    assert answer["finalized"] is True


def test_customize_relates_the_template_storage_classes_namespace_and_owners_secrets(client: FlaskClient) -> None:
    workspace = parent(template="go")
    workspace["spec"]["secrets"] = ["NPM_TOKEN"]
    answer = client.post("/customize", json={"controller": {}, "parent": workspace}).get_json()
    assert answer == {
        "relatedResources": [
            {"apiVersion": "cps1.io/v1alpha1", "resource": "workspacetemplates", "names": ["go"]},
            {"apiVersion": "storage.k8s.io/v1", "resource": "storageclasses", "labelSelector": {}},
            {"apiVersion": "v1", "resource": "namespaces", "names": ["ws-alice-dev"]},
            {
                "apiVersion": "v1",
                "resource": "secrets",
                "namespace": "cps1-system",
                "names": ["cps1-profile-alice", usersecrets.secret_object("alice", "NPM_TOKEN")],
            },
        ]
    }


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"parent": 3}',
        b'{"parent": {"metadata": {}}}',
        b'{"parent": {"metadata": {"name": "x"}}, "children": []}',
    ],
)
def test_unreadable_requests_answer_400_never_200(client: FlaskClient, body: bytes) -> None:
    response = client.post("/sync", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_internal_error_answers_500_so_nothing_is_deleted(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> dict:
        raise RuntimeError("bug")

    monkeypatch.setattr(workspace, "sync", broken)
    response = client.post("/sync", json={"parent": parent(), "children": {}, "related": {}})
    assert response.status_code == 500


def test_health_and_metrics(client: FlaskClient, python_template: dict) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    client.post("/sync", json={"parent": parent(), "children": {}, "related": related(python_template)})
    page = client.get("/metrics").get_data(as_text=True)
    assert 'cps1_hook_requests_total{code="200",hook="sync"}' in page
    assert "cps1_hook_duration_seconds_bucket" in page


def _mutate(rng: random.Random, value: object, depth: int = 0) -> object:
    """A random corruption of a JSON value: a wrong type, a removed key, or a changed scalar."""
    junk = [None, 0, -1, "", "x" * 70, [], {}, True, 3.5, "2026-13-45T99:00:00Z", *HOSTILE_VALUES]
    if isinstance(value, dict) and value and depth < 6:
        out = dict(value)
        key = rng.choice(sorted(out))
        roll = rng.random()
        if roll < 0.2:
            del out[key]
        elif roll < 0.4:
            out[key] = rng.choice(junk)
        else:
            out[key] = _mutate(rng, out[key], depth + 1)
        return out
    if isinstance(value, list) and value and depth < 6:
        out_list = list(value)
        i = rng.randrange(len(out_list))
        out_list[i] = _mutate(rng, out_list[i], depth + 1)
        return out_list
    return rng.choice(junk)


def test_finalize_without_a_delete_keeps_the_home_volume_and_its_namespace(
    client: FlaskClient, python_template: dict
) -> None:
    """Metacontroller also calls finalize when a parent stops matching the controller's selector
    (nobody deleted it): removing the Namespace would take the home volume with it."""
    _, children = factories.converged(parent(), python_template)
    body = factories.request_body(children, python_template, finalizing=True)
    assert "deletionTimestamp" not in body["parent"]["metadata"]
    answer = client.post("/finalize", json=body).get_json()
    kept = {(c["kind"], c["metadata"]["name"]) for c in answer["children"]}
    assert {("PersistentVolumeClaim", "home"), ("Namespace", "ws-alice-dev")} <= kept


def test_fuzz_no_200_answer_omits_an_observed_volume(client: FlaskClient, python_template: dict) -> None:
    rng = random.Random(1234)
    _, children = factories.converged(parent(), python_template)
    body = factories.request_body(children, python_template)
    answered = 0
    for _ in range(3000):
        mutated: object = body
        for _ in range(rng.randint(1, 4)):
            mutated = _mutate(rng, mutated)
        response = client.post("/sync", json=mutated)
        assert response.status_code in (200, 400, 500)
        if response.status_code != 200 or not isinstance(mutated, dict):
            continue
        answered += 1
        sent = {
            (c.get("kind"), c["metadata"].get("namespace"), c["metadata"].get("name"))
            for c in response.get_json()["children"]
        }
        group = (mutated.get("children") or {}).get("PersistentVolumeClaim.v1")
        namespaces = (mutated.get("children") or {}).get("Namespace.v1")
        for pvc in group.values() if isinstance(group, dict) else []:
            if isinstance(pvc, dict) and isinstance(pvc.get("metadata"), dict):
                meta = pvc["metadata"]
                assert ("PersistentVolumeClaim", meta.get("namespace"), meta.get("name")) in sent
                holder = namespaces.get(meta.get("namespace")) if isinstance(namespaces, dict) else None
                if isinstance(holder, dict) and isinstance(holder.get("metadata"), dict):
                    assert ("Namespace", None, holder["metadata"].get("name")) in sent
    assert answered > 1000  # most corruptions are still answered, so the property was exercised


# Values a user can write (spec fields, annotations) or an admin can put in a template, chosen
# to break arithmetic: decimal overflow, out-of-range dates and durations, strings for numbers.
HOSTILE_VALUES = [
    "9e999999Ki",
    "-9e999999",
    "1e-999999",
    10**30,
    -(10**30),
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "+99999-01-01T00:00:00Z",
    "abc",
    1e308,
]
USER_WRITABLE = [
    ("parent", "spec", "storage", "size"),
    ("parent", "spec", "parameters", "cpu"),
    ("parent", "spec", "idleTimeoutSeconds"),
    ("parent", "metadata", "annotations", "cps1.io/last-activity"),
    ("parent", "metadata", "annotations", "cps1.io/keep-alive-until"),
    ("parent", "metadata", "creationTimestamp"),
    ("parent", "status", "lastStartTime"),
]


def _set(body: dict, path: tuple[str, ...], value: object) -> dict:
    out = json.loads(json.dumps(body))
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("path", USER_WRITABLE, ids="/".join)
def test_hostile_user_values_never_answer_500(client: FlaskClient, python_template: dict, path: tuple) -> None:
    """A user's value must end in a Failed status or be ignored, never in a 500 that stops the
    Workspace's reconciliation (stop, idle policy) for good."""
    _, children = factories.converged(parent(), python_template)
    body = factories.request_body(children, python_template)
    for value in HOSTILE_VALUES:
        response = client.post("/sync", json=_set(body, path, value))
        assert response.status_code == 200, (path, value, response.get_json())
        assert any(c["kind"] == "PersistentVolumeClaim" for c in response.get_json()["children"])


@pytest.mark.parametrize("bound", ["min", "max"])
def test_template_bounds_of_the_wrong_type_are_a_failed_status(
    client: FlaskClient, python_template: dict, bound: str
) -> None:
    template = json.loads(json.dumps(python_template))
    template["spec"]["parameters"] = [{"name": "port", "type": "int", "default": 3, bound: "three"}]
    _, children = factories.converged(parent(), python_template)
    response = client.post("/sync", json=factories.request_body(children, template))
    assert response.status_code == 200
    assert response.get_json()["status"]["phase"] == "Failed"
    assert "unreadable" in response.get_json()["status"]["message"]
