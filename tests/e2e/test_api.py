"""The Workspace API against the real control plane, CRDs and hooks: every endpoint, every
role, the authorization matrix, bad input that writes nothing."""

import base64
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

import kubeclient as kube
from api.app import create_app
from api.settings import Settings
from api.store import Store
from common import crd
from tests.support import workspaces as ws
from tests.support.cluster import Env, found, wait_until

SYSTEM_NS = "cps1-api-test"
ROOT_TOKEN = "cps1_a1b2c3d4e5f6_" + "r" * 40
PROXY_SECRET = "api-test-proxy-" + "s" * 20
GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFHvpng/GqwCDXQcQbNsiO7G+wS9DQT3CnGsFkBIO5sE alice@laptop"


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str):
        call = getattr(self.client, method)
        return lambda path, **kw: call(f"/api/v1{path}", headers=self.headers, **kw)


@pytest.fixture(scope="module")
def app(env: Env):
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    settings = Settings(
        system_namespace=SYSTEM_NS,
        bootstrap_admin="root",
        bootstrap_token=ROOT_TOKEN,
        proxy_user_header="X-Forwarded-User",
        proxy_trusted_networks=("127.0.0.1/32",),
        proxy_secret=PROXY_SECRET,
    )
    ws.template(env, "api-python")
    return create_app(settings, Store(env.client, SYSTEM_NS))


@pytest.fixture(scope="module")
def root(app) -> Api:
    return Api(app.test_client(), ROOT_TOKEN)


@pytest.fixture(scope="module")
def users(app, root: Api) -> dict[str, Api]:
    out = {}
    for name in ("alice", "bob"):
        assert root.post("/users", json={"name": name}).status_code == 201
        answer = root.post(f"/users/{name}/tokens", json={"name": "e2e"})
        assert answer.status_code == 201
        out[name] = Api(app.test_client(), answer.json["token"])
    return out


@pytest.fixture(scope="module")
def alice_ws(env: Env, users: dict[str, Api]) -> Iterator[str]:
    answer = users["alice"].post(
        "/workspaces", json={"name": "api-alice", "template": "api-python", "parameters": {"cpu": "1"}}
    )
    assert answer.status_code == 201, answer.json
    yield "api-alice"
    ws.delete(env, "api-alice")


def count_workspaces(env: Env) -> int:
    return len(kube.resource(env.client, crd.API_VERSION, crd.WORKSPACE_KIND).get().to_dict()["items"])


def test_authentication_is_required(app) -> None:
    client = app.test_client()
    for path in ("/api/v1/workspaces", "/api/v1/templates", "/api/v1/me", "/api/v1/users"):
        answer = client.get(path)
        assert answer.status_code == 401 and "authentication required" in answer.json["message"]
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer cps1_000000000000_" + "x" * 40})
    assert bad.status_code == 401


def test_bootstrap_admin_and_users(root: Api, users: dict[str, Api]) -> None:
    effective = {"workspaces": 20, "running": 5, "cpu": "", "memory": "", "storage": ""}  # the installation's
    me = {"name": "root", "admin": True, "keys": 0, "disabled": False, "limits": {}, "groups": []}
    me["effectiveLimits"] = effective
    assert root.get("/me").json == me
    assert users["alice"].get("/me").json["admin"] is False
    names = [u["name"] for u in root.get("/users").json["items"]]
    assert {"root", "alice", "bob"} <= set(names)
    assert users["alice"].get("/users").status_code == 403


def test_owner_comes_from_the_caller_never_the_body(env: Env, users: dict[str, Api]) -> None:
    before = count_workspaces(env)
    answer = users["bob"].post("/workspaces", json={"name": "api-steal", "template": "api-python", "owner": "alice"})
    assert answer.status_code == 422 and "owner" in json.dumps(answer.json)
    assert count_workspaces(env) == before


def test_create_get_list_and_the_lifecycle(env: Env, users: dict[str, Api], root: Api, alice_ws: str) -> None:
    alice = users["alice"]
    got = alice.get(f"/workspaces/{alice_ws}").json
    assert got["owner"] == "alice" and got["template"] == "api-python" and got["parameters"] == {"cpu": "1"}
    assert got["lastActivity"]  # creating through the api is activity
    wait_until(lambda: alice.get(f"/workspaces/{alice_ws}").json["phase"] == "Running", what="Running")
    assert [w["name"] for w in alice.get("/workspaces").json["items"]] == [alice_ws]
    assert users["bob"].get("/workspaces").json["items"] == []
    assert alice_ws in [w["name"] for w in root.get("/workspaces").json["items"]]
    assert [w["name"] for w in root.get("/workspaces?owner=bob").json["items"]] == []
    assert [w["name"] for w in root.get("/workspaces?owner=alice&phase=Running").json["items"]] == [alice_ws]
    assert alice.post(f"/workspaces/{alice_ws}/stop").json["running"] is False
    wait_until(lambda: alice.get(f"/workspaces/{alice_ws}").json["phase"] == "Stopped", what="Stopped")
    started = alice.post(f"/workspaces/{alice_ws}/start").json
    assert started["running"] is True
    assert ws.get(env, alice_ws)["metadata"]["annotations"][crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "api"
    wait_until(lambda: alice.get(f"/workspaces/{alice_ws}").json["phase"] == "Running", what="Running again")
    kept = alice.post(f"/workspaces/{alice_ws}/keepalive", json={"seconds": 7200}).json
    assert kept["keepAliveUntil"]
    # The pod's scheduling in the Workspace's namespace, as the scheduler reported it, oldest first.
    scheduled = wait_until(
        lambda: [e for e in alice.get(f"/workspaces/{alice_ws}/events").json["items"] if e["reason"] == "Scheduled"],
        what="the Scheduled event",
    )
    assert scheduled[0]["type"] == "Normal" and scheduled[0]["object"].startswith("Pod/workspace-")
    assert f"ws-{alice_ws}/workspace-" in scheduled[0]["message"]
    times = [e["time"] for e in alice.get(f"/workspaces/{alice_ws}/events").json["items"]]
    assert times == sorted(times)


VERBS = [
    ("get", "", None),
    ("patch", "", {"running": False}),
    ("post", "/start", None),
    ("post", "/stop", None),
    ("post", "/keepalive", {"seconds": 600}),
    ("get", "/events", None),
    ("delete", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), VERBS, ids=[f"{m}{s}" for m, s, _ in VERBS])
def test_authorization_matrix_other_users_workspace_is_invisible(
    env: Env,
    users: dict[str, Api],
    alice_ws: str,
    method: str,
    suffix: str,
    body: dict | None,
) -> None:
    def owned_state() -> tuple:
        obj = ws.get(env, alice_ws)
        return obj["spec"], obj["metadata"].get("annotations"), obj["metadata"].get("deletionTimestamp")

    before = owned_state()
    answer = getattr(users["bob"], method)(f"/workspaces/{alice_ws}{suffix}", json=body)
    assert answer.status_code == 404
    assert answer.json["message"] == f"workspace {alice_ws!r} not found"
    assert owned_state() == before  # status may move as the hooks work; what the user owns does not


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"name": "api-x", "template": "no-such"}, 422, "does not exist"),
        ({"name": "api-x", "template": "api-python", "parameters": {"cpu": "lots"}}, 422, "parameters.cpu"),
        ({"name": "api-x", "template": "api-python", "parameters": {"cpu": 3.5e9}}, 422, "must be at most"),
        ({"name": "api-x", "template": "api-python", "parameters": {"nope": 1}}, 422, "not defined"),
        ({"name": "a" * 61, "template": "api-python"}, 422, "name"),
        ({"name": "Bad_Name", "template": "api-python"}, 422, "name"),
        ({"name": "api-x", "template": "api-python", "idleTimeoutSeconds": -1}, 422, "idleTimeoutSeconds"),
        ({"template": "api-python"}, 422, "name"),
    ],
)
def test_bad_workspace_input_answers_4xx_and_writes_nothing(
    env: Env,
    users: dict[str, Api],
    body: dict,
    code: int,
    fragment: str,
) -> None:
    before = count_workspaces(env)
    answer = users["alice"].post("/workspaces", json=body)
    assert answer.status_code == code, answer.json
    assert fragment in json.dumps(answer.json)
    assert count_workspaces(env) == before


def test_broken_and_oversized_bodies(env: Env, users: dict[str, Api]) -> None:
    before = count_workspaces(env)
    broken = users["alice"].post("/workspaces", data="{not json", content_type="application/json")
    assert broken.status_code in (400, 422) and "message" in broken.json
    huge = users["alice"].post(
        "/workspaces", json={"name": "api-big", "template": "api-python", "parameters": {"x": "y" * 70000}}
    )
    assert huge.status_code == 413 and "message" in huge.json
    assert count_workspaces(env) == before


def test_kubernetes_validation_errors_come_back_as_422_with_the_field(users: dict[str, Api], alice_ws: str) -> None:
    alice = users["alice"]
    assert alice.patch(f"/workspaces/{alice_ws}", json={"storage": {"size": "20Gi"}}).status_code == 200
    # The local storage class cannot expand volumes: the hooks say so instead of failing to apply.
    wait_until(
        lambda: any(
            c["reason"] == "ResizeUnsupported" for c in alice.get(f"/workspaces/{alice_ws}").json["conditions"]
        ),
        what="ResizeUnsupported reported",
    )
    shrink = alice.patch(f"/workspaces/{alice_ws}", json={"storage": {"size": "5Gi"}})
    assert shrink.status_code == 422
    assert "spec.storage.size" in shrink.json["detail"]["fields"]
    assert "may only grow" in json.dumps(shrink.json)


def test_immutable_parameters_cannot_change(env: Env, users: dict[str, Api]) -> None:
    alice = users["alice"]
    made = alice.post(
        "/workspaces",
        json={
            "name": "api-immutable",
            "template": "api-python",
            "running": False,
            "parameters": {"pythonVersion": "3.11"},
        },
    )
    assert made.status_code == 201
    try:
        answer = alice.patch("/workspaces/api-immutable", json={"parameters": {"pythonVersion": "3.12"}})
        assert answer.status_code == 422
        assert "cannot change" in answer.json["detail"]["fields"]["parameters.pythonVersion"]
        assert (
            alice.patch(
                "/workspaces/api-immutable", json={"parameters": {"pythonVersion": "3.11", "cpu": "2"}}
            ).status_code
            == 200
        )
    finally:
        assert alice.delete("/workspaces/api-immutable").status_code == 204


def test_templates_for_users_and_admins(env: Env, users: dict[str, Api], root: Api) -> None:
    alice = users["alice"]
    listed = alice.get("/templates").json["items"]
    assert "api-python" in [t["name"] for t in listed] and "usage" not in listed[0]
    form = alice.get("/templates/api-python").json
    assert [p["name"] for p in form["parameters"]] == ["cpu", "memory", "pythonVersion"]
    spec = {"image": "cps1/workspace-go:0.1.0", "idleTimeoutSeconds": 600}
    for method, path, body in (
        ("post", "/templates", {"name": "api-go", "spec": spec}),
        ("put", "/templates/api-python", {"spec": spec}),
        ("delete", "/templates/api-python", None),
        ("post", "/templates/validate", {"name": "api-go", "spec": spec}),
    ):
        assert getattr(alice, method)(path, json=body).status_code == 403
    assert root.post("/templates/validate", json={"name": "api-go", "spec": spec}).json == {"valid": True}
    assert ws.child(env, "x", crd.API_VERSION, crd.TEMPLATE_KIND, "api-go") is None  # validate saved nothing
    bad = root.post(
        "/templates/validate", json={"name": "api-go", "spec": {"image": "x", "ports": {"ide": 2222, "ssh": 2222}}}
    )
    assert bad.status_code == 422 and "ports must differ" in json.dumps(bad.json)
    assert root.post("/templates", json={"name": "api-go", "spec": spec}).status_code == 201
    assert root.post("/templates", json={"name": "api-go", "spec": spec}).status_code == 409
    replaced = root.put("/templates/api-go", json={"spec": {**spec, "description": "Go"}})
    assert replaced.status_code == 200 and replaced.json["description"] == "Go"
    usage = {t["name"]: t["usage"] for t in root.get("/templates").json["items"]}
    assert usage["api-go"] == 0
    assert root.delete("/templates/api-go").status_code == 204
    assert root.get("/templates/api-go").status_code == 404


def test_ssh_keys(users: dict[str, Api], tmp_path: Path) -> None:
    alice, bob = users["alice"], users["bob"]
    added = alice.post("/me/keys", json={"key": GOOD_KEY})
    assert added.status_code == 201
    (tmp_path / "k.pub").write_text(GOOD_KEY + "\n")
    expected = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, text=True, check=True
    )
    assert added.json["fingerprint"] == expected.stdout.split()[1]
    assert added.json["name"] == "alice@laptop"
    assert alice.post("/me/keys", json={"key": GOOD_KEY}).status_code == 409
    assert [k["fingerprint"] for k in alice.get("/me/keys").json["items"]] == [added.json["fingerprint"]]
    assert bob.get("/me/keys").json["items"] == []
    for bad in ("ssh-ed25519", "ssh-rsa AAAA!!!!", "ssh-dss AAAAB3NzaC1kc3M=", "ssh-rsa " + GOOD_KEY.split()[1]):
        answer = alice.post("/me/keys", json={"key": bad})
        assert answer.status_code == 422 and answer.json["detail"]["fields"]["key"]
    assert bob.delete(f"/me/keys/{added.json['fingerprint']}").status_code == 404
    assert alice.delete(f"/me/keys/{added.json['fingerprint']}").status_code == 204
    assert alice.get("/me/keys").json["items"] == []


def test_tokens_are_shown_once_stored_hashed_and_revocable(env: Env, app, users: dict[str, Api]) -> None:
    alice = users["alice"]
    made = alice.post("/me/tokens", json={"name": "laptop", "expiresInDays": 30})
    assert made.status_code == 201 and made.json["token"].startswith("cps1_")
    listed = alice.get("/me/tokens").json["items"]
    assert made.json["id"] in [t["id"] for t in listed] and "token" not in json.dumps(listed)
    secret = kube.get(env.client, "v1", "Secret", f"cps1-token-{made.json['id']}", SYSTEM_NS)
    assert made.json["token"] not in json.dumps(secret)  # only the hash is kept
    fresh = Api(app.test_client(), made.json["token"])
    assert fresh.get("/me").json["name"] == "alice"
    assert users["bob"].delete(f"/me/tokens/{made.json['id']}").status_code == 404
    assert alice.delete(f"/me/tokens/{made.json['id']}").status_code == 204
    assert fresh.get("/me").status_code == 401


def test_trusted_proxy_header_only_from_trusted_networks(app) -> None:
    client = app.test_client()
    proxied = {"X-Forwarded-User": "carol", "X-CPS1-Proxy-Secret": PROXY_SECRET}
    trusted = client.get("/api/v1/me", headers=proxied, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert trusted.status_code == 200 and trusted.json["name"] == "carol"
    spoofed = client.get(
        "/api/v1/me", headers={**proxied, "X-Forwarded-User": "root"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert spoofed.status_code == 401


def test_changes_are_audited(users: dict[str, Api], alice_ws: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cps1.audit"):
        users["alice"].post(f"/workspaces/{alice_ws}/keepalive", json={"seconds": 600})
        users["bob"].post(f"/workspaces/{alice_ws}/stop")
    records = [vars(r) for r in caplog.records if r.name == "cps1.audit"]
    assert [(r["actor"], r["status"], r["outcome"]) for r in records] == [("alice", 200, "ok"), ("bob", 404, "denied")]
    assert records[0]["action"] == "POST /api/v1/workspaces/<name>/keepalive"
    assert records[0]["workspace"] == alice_ws


def test_the_ide_password_is_the_owners_and_its_reading_is_audited(
    env: Env, users: dict[str, Api], root: Api, alice_ws: str, caplog: pytest.LogCaptureFixture
) -> None:
    wait_until(lambda: ws.child(env, alice_ws, "v1", "Secret", "workspace"), what="the Workspace Secret")
    secret = found(ws.child(env, alice_ws, "v1", "Secret", "workspace"))
    expected = base64.b64decode(secret["data"]["password"]).decode()
    with caplog.at_level(logging.INFO, logger="cps1.audit"):
        mine = users["alice"].get(f"/workspaces/{alice_ws}/ide-password")
        theirs = users["bob"].get(f"/workspaces/{alice_ws}/ide-password")
    assert mine.status_code == 200 and mine.json == {"password": expected}
    assert theirs.status_code == 404 and expected not in theirs.get_data(as_text=True)
    assert root.get(f"/workspaces/{alice_ws}/ide-password").json == {"password": expected}
    records = [vars(r) for r in caplog.records if r.name == "cps1.audit"]
    assert [(r["actor"], r["status"]) for r in records] == [("alice", 200), ("bob", 404)]
    assert all(expected not in r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)


def test_health_metrics_and_openapi(app) -> None:
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert "cps1_api_requests_total" in client.get("/metrics").get_data(as_text=True)
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert "/api/v1/workspaces/{name}/start" in document["paths"]


def test_ide_prober_records_heartbeats(env: Env, users: dict[str, Api], alice_ws: str) -> None:
    """code-server cannot run on kwok's simulated pods; a loopback server answers its /healthz."""
    import time

    from api import prober
    from tests.e2e.code_server import health_server

    wait_until(lambda: users["alice"].get(f"/workspaces/{alice_ws}").json["phase"] == "Running", what="Running")
    time.sleep(1.1)  # activities have second precision: the heartbeat must be newer than the last
    beat = int(time.time() * 1000)  # and not in the future, which the prober clamps to now
    with health_server(lambda path: (200, {"status": "alive", "lastHeartbeat": beat}, {})) as (base, _):
        store = Store(env.client, SYSTEM_NS)
        url = base + "/healthz?ws={workspace}&ns={namespace}"
        assert prober.probe_once(store, url) >= 1
        notes = ws.get(env, alice_ws)["metadata"]["annotations"]
        assert notes[crd.ANNOTATION_LAST_ACTIVITY_SOURCE] == "ide"
        assert prober.probe_once(store, url) == 0  # the same heartbeat is not recorded twice


def test_openapi_document_matches_the_implementation(app, users: dict[str, Api]) -> None:
    """schemathesis drives every operation of the served document with generated requests and
    checks that no answer is a server error and every status and body is the documented one."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # Semantic checks (a well-formed but wrong SSH key, an unknown template) answer 4xx on
    # schema-valid input by design, so "positive data acceptance" is not among the checks.
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    token = users["bob"].headers["Authorization"]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            case.call_and_validate(headers={"Authorization": token}, checks=checks)

        check()


def test_cli_against_a_served_api(
    env: Env,
    app,
    root: Api,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import threading

    from werkzeug.serving import make_server

    from cps1 import cli

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("CPS1_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.delenv("CPS1_API_URL", raising=False)
    monkeypatch.delenv("CPS1_TOKEN", raising=False)
    try:
        assert cli.main(["ws", "list"]) == 1
        assert "not logged in" in capsys.readouterr().err
        assert cli.main(["login", "--url", url, "--token", ROOT_TOKEN]) == 0
        assert "logged in as root (admin)" in capsys.readouterr().out
        assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
        template = tmp_path / "t.yaml"
        template.write_text(
            "apiVersion: cps1.io/v1alpha1\nkind: WorkspaceTemplate\nmetadata: {name: cli-go}\n"
            "spec: {image: cps1/workspace-go:0.1.0}\n"
        )
        assert cli.main(["template", "apply", "-f", str(template)]) == 0
        assert cli.main(["template", "apply", "-f", str(template)]) == 0
        assert capsys.readouterr().out.splitlines() == ["created template cli-go", "updated template cli-go"]
        assert cli.main(["ws", "create", "cli-ws", "--template", "cli-go", "--wait", "--timeout", "90"]) == 0
        progress = capsys.readouterr()
        assert "created cli-ws" in progress.out and "cli-ws: Running" in progress.err
        assert cli.main(["ws", "list"]) == 0
        assert "cli-ws" in capsys.readouterr().out
        assert cli.main(["ws", "ssh-config", "cli-ws"]) == 0
        assert "Host cps1-cli-ws\n  HostName 127.0.0.1\n  Port 2222\n  User cli-ws" in capsys.readouterr().out
        assert cli.main(["ws", "ide-password", "cli-ws"]) == 0
        secret = found(ws.child(env, "cli-ws", "v1", "Secret", "workspace"))
        assert capsys.readouterr().out == base64.b64decode(secret["data"]["password"]).decode() + "\n"
        assert cli.main(["ws", "stop", "cli-ws"]) == 0
        assert cli.main(["ws", "create", "bad name", "--template", "cli-go"]) == 1
        assert "name" in capsys.readouterr().err
        assert cli.main(["ws", "delete", "cli-ws"]) == 0
        ws.wait_gone(env, "cli-ws")
    finally:
        server.shutdown()
        ws.delete(env, "cli-go", "WorkspaceTemplate")
