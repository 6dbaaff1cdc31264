"""The API's security properties against the real control plane (issue 14): who may act, which
Secrets it believes, the first admin, disabled users, the proxy's secret, throttling, and user
values that must be a 4xx rather than a 500."""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import NotFoundError

import kubeclient as kube
from api import prober
from api.app import create_app
from api.settings import Settings
from api.store import Store
from common import accounts, crd
from tests.e2e.code_server import Answer, health_server
from tests.e2e.test_api import Api
from tests.support import workspaces as ws
from tests.support.cluster import Env

SYSTEM_NS = "cps1-apisec-test"
ROOT_TOKEN = "cps1_b1b2b3b4b5b6_" + "s" * 40
PROXY_SECRET = "p" * 32


def settings(**changes: object) -> Settings:
    base: dict[str, Any] = {
        "system_namespace": SYSTEM_NS,
        "bootstrap_admin": "root",
        "bootstrap_token": ROOT_TOKEN,
        "proxy_user_header": "X-Forwarded-User",
        "proxy_secret": PROXY_SECRET,
    }
    return Settings(**{**base, **changes})


@pytest.fixture(scope="module")
def app(env: Env):
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    ws.template(env, "sec-python")
    yield create_app(settings(), Store(env.client, SYSTEM_NS))
    with contextlib.suppress(NotFoundError):
        kube.resource(env.client, "v1", "Namespace").delete(name=SYSTEM_NS)


@pytest.fixture(scope="module")
def root(app) -> Api:
    return Api(app.test_client(), ROOT_TOKEN)


def gone(env: Env, *names: str) -> None:
    """Delete and wait: the next test module counts and lists Workspaces."""
    for name in names:
        ws.delete(env, name)
    for name in names:
        ws.wait_gone(env, name)


def user(app, root: Api, name: str, admin: bool = False) -> Api:
    assert root.post("/users", json={"name": name, "admin": admin}).status_code == 201
    answer = root.post(f"/users/{name}/tokens", json={"name": "e2e"})
    assert answer.status_code == 201, answer.json
    return Api(app.test_client(), answer.json["token"])


def test_a_token_secret_the_api_did_not_write_is_refused(env: Env, app) -> None:
    """What the gateway's old `create secrets` allowed: a Secret that names a user and holds the
    hash of a token its maker knows."""
    token = "cps1_f0f0f0f0f0f0_" + "m" * 40
    kube.resource(env.client, "v1", "Secret").create(
        namespace=SYSTEM_NS,
        body={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": accounts.token_secret("f0f0f0f0f0f0"),
                "labels": {accounts.KIND_LABEL: "token", accounts.USER_LABEL: "root"},
            },
            "type": "Opaque",
            "stringData": {"hash": accounts.token_hash(token), "user": "root", "name": "minted"},
        },
    )
    assert Api(app.test_client(), token).get("/me").status_code == 401


def test_the_first_admin_is_made_once_and_can_be_revoked(env: Env, app, root: Api) -> None:
    assert root.get("/me").json["admin"] is True
    other = user(app, root, "second-admin", admin=True)
    tokens = other.get("/users/root/tokens")
    assert tokens.status_code == 200
    bootstrap = next(t for t in tokens.json["items"] if t["name"] == "bootstrap")
    assert other.delete(f"/users/root/tokens/{bootstrap['id']}").status_code == 204
    assert root.get("/me").status_code == 401
    restarted = create_app(settings(), Store(env.client, SYSTEM_NS))  # every start runs the bootstrap
    assert Api(restarted.test_client(), ROOT_TOKEN).get("/me").status_code == 401
    # Put it back for the other tests: a new token for root, handed over by the second admin.
    fresh = other.post("/users/root/tokens", json={"name": "again"}).json["token"]
    root.headers["Authorization"] = f"Bearer {fresh}"
    assert root.get("/me").status_code == 200


def test_admins_disable_users_who_then_get_401_and_keep_their_workspaces(env: Env, app, root: Api) -> None:
    carol = user(app, root, "carol")
    made = carol.post("/workspaces", json={"name": "sec-carol", "template": "sec-python"})
    assert made.status_code == 201, made.json
    try:
        assert root.patch("/users/carol", json={"disabled": True}).json["disabled"] is True
        assert carol.get("/me").status_code == 401
        other_worker = create_app(settings(), Store(env.client, SYSTEM_NS)).test_client()
        assert other_worker.get("/api/v1/me", headers=carol.headers).status_code == 401
        assert ws.get(env, "sec-carol")["spec"]["running"] is True
        assert root.patch("/users/root", json={"disabled": True}).status_code == 409
        assert root.patch("/users/carol", json={"disabled": False}).status_code == 200
        assert carol.get("/me").status_code == 200
    finally:
        gone(env, "sec-carol")


def test_admins_list_and_revoke_any_users_tokens(app, root: Api) -> None:
    dave = user(app, root, "dave")
    listed = root.get("/users/dave/tokens").json["items"]
    assert [t["name"] for t in listed] == ["e2e"]
    assert root.delete(f"/users/carol/tokens/{listed[0]['id']}").status_code == 404  # not carol's
    assert root.delete(f"/users/dave/tokens/{listed[0]['id']}").status_code == 204
    assert dave.get("/me").status_code == 401
    assert dave.get("/users/root/tokens").status_code == 401


def test_the_proxy_identity_needs_the_shared_secret(app) -> None:
    client = app.test_client()
    forged = client.get("/api/v1/me", headers={"X-Forwarded-User": "root"})
    assert forged.status_code == 401
    wrong = client.get("/api/v1/me", headers={"X-Forwarded-User": "root", "X-CPS1-Proxy-Secret": "guess"})
    assert wrong.status_code == 401
    proxied = client.get("/api/v1/me", headers={"X-Forwarded-User": "erin", "X-CPS1-Proxy-Secret": PROXY_SECRET})
    assert proxied.status_code == 200
    assert proxied.json["name"] == "erin"


def test_lookups_are_cached_and_failures_throttled(env: Env, app, root: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bogus tokens cost a read each only until the source is throttled; a good token is read once."""
    reads: list[str] = []
    original = Store.token_secret

    def counted(self: Store, token_id: str) -> dict | None:
        reads.append(token_id)
        return original(self, token_id)

    monkeypatch.setattr(Store, "token_secret", counted)
    throttled = create_app(settings(max_failed_auth=5), Store(env.client, SYSTEM_NS)).test_client()
    good = root.headers
    for _ in range(3):
        assert throttled.get("/api/v1/me", headers=good).status_code == 200
    assert len(reads) == 1
    codes = [
        throttled.get("/api/v1/me", headers={"Authorization": f"Bearer cps1_{i:012x}_{'x' * 40}"}).status_code
        for i in range(20)
    ]
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}
    assert len(reads) == 1 + 5
    refused = throttled.get("/api/v1/me", headers=good)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_authorization_comes_before_validation(env: Env, app, root: Api) -> None:
    frank = user(app, root, "frank")
    assert frank.post("/templates", json={"name": "Not A Name!", "spec": 7}).status_code == 403
    assert frank.put("/templates/sec-python", json={"spec": "junk"}).status_code == 403
    assert frank.post("/users", json={"name": "?"}).status_code == 403
    assert frank.patch("/users/root", json={"disabled": "maybe"}).status_code == 403
    made = root.post("/workspaces", json={"name": "sec-root", "template": "sec-python"})
    assert made.status_code == 201
    try:
        assert frank.patch("/workspaces/sec-root", json={"running": "perhaps"}).status_code == 404
        assert frank.post("/workspaces/sec-root/keepalive", json={"seconds": "x"}).status_code == 404
    finally:
        gone(env, "sec-root")


@pytest.mark.parametrize("value", ["9e999999Ki", "-9e999999", "99999999999999999999Ei"])
def test_out_of_range_quantities_are_422(app, root: Api, value: str) -> None:
    answer = root.post("/workspaces", json={"name": "sec-huge", "template": "sec-python", "parameters": {"cpu": value}})
    assert answer.status_code == 422, answer.json
    assert "parameters.cpu" in answer.json["detail"]["fields"]


def test_template_bounds_of_the_wrong_type_are_422(env: Env, root: Api) -> None:
    """The CRD does not type a parameter's bounds; a string bound must not make the API 500."""
    ws.template(env, "sec-bounds", parameters=[{"name": "port", "type": "int", "default": 3, "max": "three"}])
    answer = root.post("/workspaces", json={"name": "sec-bounds", "template": "sec-bounds", "parameters": {"port": 4}})
    assert answer.status_code == 422, answer.json


@pytest.fixture
def code_server_stand_in() -> Iterator[tuple[str, list[str]]]:
    """code-server's /healthz, answering per Workspace (named in the query)."""
    answers: dict[str, Answer] = {
        "sec-probe-a": (200, {"status": "alive", "lastHeartbeat": 10**300}, {}),
        "sec-probe-b": (302, None, {"Location": "/elsewhere"}),
        "sec-probe-c": (200, {"status": "alive", "lastHeartbeat": int(time.time() * 1000) + 10**9}, {}),
    }
    with health_server(lambda path: answers.get(path.partition("ws=")[2], (404, None, {}))) as (base, seen):
        yield base + "/healthz?port={port}&ws={workspace}", seen


def test_the_prober_survives_hostile_answers(env: Env, code_server_stand_in: tuple[str, list[str]]) -> None:
    """A huge heartbeat, a redirect and a heartbeat from the future: the round goes on, no
    redirect is followed, the future is clamped to now, the template's IDE port is used."""
    url, seen = code_server_stand_in
    ws.template(env, "sec-probe", ports={"ide": 3000, "ssh": 2222})
    names = ["sec-probe-a", "sec-probe-b", "sec-probe-c"]
    for name in names:
        ws.workspace(env, name, "sec-probe", owner="prober-test")
    try:
        for name in names:
            ws.wait_phase(env, name, crd.PHASE_RUNNING, timeout=120)
        store = Store(env.client, SYSTEM_NS)
        assert prober.probe_once(store, url) == 1
        assert not any(path.startswith("/elsewhere") for path in seen)
        assert all("port=3000" in path for path in seen if "sec-probe" in path)
        notes = ws.get(env, "sec-probe-c")["metadata"]["annotations"]
        recorded = notes[crd.ANNOTATION_LAST_ACTIVITY]
        assert recorded <= ws.now_text()
        assert crd.ANNOTATION_LAST_ACTIVITY_SOURCE in notes
    finally:
        gone(env, *names)


def test_template_maxima_and_user_limits_are_readable_refusals(env: Env, app, root: Api) -> None:
    ws.template(env, "sec-capped", storage={"size": "10Gi", "maxSize": "20Gi"}, maxIdleTimeoutSeconds=7200)
    gina = user(app, root, "gina")
    big = gina.post(
        "/workspaces",
        json={"name": "sec-gina-0", "template": "sec-capped", "storage": {"size": "999Gi"}, "idleTimeoutSeconds": 0},
    )
    assert big.status_code == 422, big.json
    assert big.json["detail"]["fields"]["storage.size"] == "storage size 999Gi is above this template's maximum of 20Gi"
    assert "0 (never) is not allowed" in big.json["detail"]["fields"]["idleTimeoutSeconds"]
    assert root.patch("/users/gina", json={"limits": {"workspaces": 2, "running": 1}}).json["limits"] == {
        "workspaces": 2,
        "running": 1,
    }
    names = ["sec-gina-1", "sec-gina-2", "sec-gina-3"]
    try:
        assert gina.post("/workspaces", json={"name": names[0], "template": "sec-capped"}).status_code == 201
        second = gina.post("/workspaces", json={"name": names[1], "template": "sec-capped"})
        assert (second.status_code, second.json["message"]) == (
            409,
            "gina already runs 1 of 1 Workspaces; stop one first",
        )
        stopped = gina.post("/workspaces", json={"name": names[1], "template": "sec-capped", "running": False})
        assert stopped.status_code == 201
        assert gina.post(f"/workspaces/{names[1]}/start").status_code == 409
        third = gina.post("/workspaces", json={"name": names[2], "template": "sec-capped", "running": False})
        assert (third.status_code, third.json["message"]) == (
            409,
            "gina already has 2 of 2 Workspaces; delete one first",
        )
    finally:
        gone(env, *names)


def test_aggregate_request_limits_are_readable_refusals(env: Env, app, root: Api) -> None:
    """CPU and memory count while Workspaces run, storage while they exist; an admin's limits
    for one user, and the installation's default for everyone else."""
    ivy = user(app, root, "ivy")
    limits = {"cpu": "1", "memory": "6Gi", "storage": "25Gi"}
    assert root.patch("/users/ivy", json={"limits": limits}).json["limits"] == limits
    names = ["sec-ivy-1", "sec-ivy-2", "sec-ivy-3", "sec-jay-1", "sec-jay-2"]
    try:
        assert ivy.post("/workspaces", json={"name": names[0], "template": "sec-python"}).status_code == 201
        bigger = {"name": names[1], "template": "sec-python", "parameters": {"cpu": "1"}}
        refused = ivy.post("/workspaces", json=bigger)
        assert (refused.status_code, refused.json["message"]) == (
            409,
            "ivy's Workspaces would request 1.5 CPU of ivy's 1 CPU limit; stop one first",
        )
        assert ivy.post("/workspaces", json={**bigger, "running": False}).status_code == 201
        started = ivy.post(f"/workspaces/{names[1]}/start")
        assert (started.status_code, started.json["message"]) == (
            409,
            "ivy's Workspaces would request 1.5 CPU of ivy's 1 CPU limit; stop one first",
        )
        more_memory = ivy.patch(f"/workspaces/{names[0]}", json={"parameters": {"memory": "7Gi"}})
        assert (more_memory.status_code, more_memory.json["message"]) == (
            409,
            "ivy's Workspaces would request 7Gi memory of ivy's 6Gi memory limit; stop one first",
        )
        third = ivy.post("/workspaces", json={"name": names[2], "template": "sec-python", "running": False})
        assert (third.status_code, third.json["message"]) == (
            409,
            "ivy's Workspaces would request 30Gi storage of ivy's 25Gi storage limit; delete one first",
        )
        assert ivy.post(f"/workspaces/{names[0]}/stop").status_code == 200
        assert ivy.post(f"/workspaces/{names[1]}/start").status_code == 200
        assert ws.get(env, names[1])["spec"]["running"] is True

        jay = user(app, root, "jay")
        # The same user through an api whose installation default caps everyone's storage.
        jay.client = create_app(settings(max_storage_per_user="15Gi"), Store(env.client, SYSTEM_NS)).test_client()
        one = {"template": "sec-python", "running": False}
        assert jay.post("/workspaces", json={"name": names[3], **one}).status_code == 201
        second = jay.post("/workspaces", json={"name": names[4], **one})
        assert (second.status_code, second.json["message"]) == (
            409,
            "jay's Workspaces would request 20Gi storage of jay's 15Gi storage limit; delete one first",
        )
    finally:
        gone(env, *names)


def test_templates_restricted_to_users_or_groups(env: Env, app, root: Api) -> None:
    ws.template(env, "sec-team-only", access={"groups": ["data-team"]})
    hank = user(app, root, "hank")
    assert "sec-team-only" not in [t["name"] for t in hank.get("/templates").json["items"]]
    assert hank.get("/templates/sec-team-only").status_code == 404
    refused = hank.post("/workspaces", json={"name": "sec-hank", "template": "sec-team-only", "running": False})
    assert (refused.status_code, refused.json["message"]) == (
        403,
        "template 'sec-team-only' is not available to hank; ask an admin",
    )
    assert root.patch("/users/hank", json={"groups": ["data-team"]}).json["groups"] == ["data-team"]
    try:
        allowed = hank.post("/workspaces", json={"name": "sec-hank", "template": "sec-team-only", "running": False})
        assert allowed.status_code == 201, allowed.json
    finally:
        gone(env, "sec-hank")
