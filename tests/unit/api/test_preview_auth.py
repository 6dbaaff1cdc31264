"""Who may open a Workspace URL: the pure decision (share levels, the IDE owner-only, grants,
cookies bound to one host), then /preview/auth and /api/v1/preview/grants through Flask's test
client: activity at most once a minute, an audit line naming who opened the port."""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from api import preview_auth as pa
from api.app import create_app
from api.settings import Settings
from common import crd
from tests.unit.api.conftest import NOW, ROOT_TOKEN
from tests.unit.api.memory_store import MemoryStore

SECRET = "s" * 32
DOMAIN = "localhost"
WORKSPACE = {
    "metadata": {"name": "alice-ws"},
    "spec": {
        "owner": "alice",
        "template": "go",
        "ports": [
            {"port": 3000, "share": "owner"},
            {"port": 4000, "share": "authenticated"},
            {"port": 5000, "share": "public"},
        ],
    },
}


def target(host: str, template: dict | None = None) -> pa.Target | None:
    return pa.target(host, DOMAIN, WORKSPACE, template or {"spec": {}})


def decide(host: str, user: str | None, uri: str = "/", method: str = "GET") -> pa.Verdict:
    req = pa.Request(host=host, uri=uri, method=method)
    return pa.decide(req, target(host), user, secret=SECRET, sign_in_url="http://console.localhost/", now=NOW)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        # anonymous, the owner, another signed-in user
        ("3000--alice-ws.localhost:8080", (302, 200, 403)),
        ("4000--alice-ws.localhost:8080", (302, 200, 200)),
        ("5000--alice-ws.localhost:8080", (200, 200, 200)),
        ("alice-ws.localhost:8080", (302, 200, 403)),  # the IDE: owner-only
        ("6000--alice-ws.localhost:8080", (404, 404, 404)),  # not declared
        ("bob-ws.localhost:8080", (404, 404, 404)),  # another Workspace's host
    ],
)
def test_share_levels(host: str, expected: tuple[int, int, int]) -> None:
    assert tuple(decide(host, user).status for user in (None, "alice", "bob")) == expected


def test_the_template_caps_the_share_level() -> None:
    capped = target("5000--alice-ws.localhost", {"spec": {"previews": {"maxShare": "authenticated"}}})
    assert capped is not None and capped.share == "authenticated"
    assert not pa.may_open(capped, None)


def test_signed_out_browsers_are_sent_to_sign_in_and_back() -> None:
    verdict = decide("3000--alice-ws.localhost:8080", None, uri="/app?x=1")
    location = urlsplit(verdict.headers["Location"])
    assert parse_qs(location.query)["next"] == ["http://3000--alice-ws.localhost:8080/app?x=1"]
    assert decide("3000--alice-ws.localhost:8080", None, method="POST").status == 401


def test_a_grant_sets_a_cookie_for_its_host_only() -> None:
    link = pa.grant_url("http://3000--alice-ws.localhost:8080/app?x=1", "alice", secret=SECRET, now=NOW)
    parts = urlsplit(link)
    verdict = decide("3000--alice-ws.localhost:8080", None, uri=f"{parts.path}?{parts.query}")
    assert verdict.status == 302
    assert verdict.headers["Location"] == "/app?x=1"
    cookie = verdict.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Domain" not in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    host = "3000--alice-ws.localhost"
    assert pa.verify(value, SECRET, kind=pa.SESSION, host=host, now=NOW) == "alice"
    assert pa.verify(value, SECRET, kind=pa.SESSION, host="4000--alice-ws.localhost", now=NOW) is None
    assert pa.verify(value, SECRET, kind=pa.GRANT, host=host, now=NOW) is None
    assert pa.verify(value, "x" * 32, kind=pa.SESSION, host=host, now=NOW) is None
    assert pa.verify(value, SECRET, kind=pa.SESSION, host=host, now=NOW + timedelta(days=1)) is None
    # The same ticket on another host, or too late, signs nobody in.
    other = decide("4000--alice-ws.localhost:8080", None, uri=f"{parts.path}?{parts.query}")
    assert other.status == 403


def test_a_grant_on_a_public_port_sets_no_cookie_and_never_redirects_off_host() -> None:
    link = pa.grant_url("http://5000--alice-ws.localhost/", "bob", secret=SECRET, now=NOW)
    query = urlsplit(link).query.replace("next=%2F", "next=%2F%2Fevil.example")
    verdict = decide("5000--alice-ws.localhost", None, uri=f"{pa.GRANT_PATH}?{query}")
    assert verdict.headers == {"Location": "/"}


def api_process(store: MemoryStore) -> FlaskClient:
    """One API process (a gunicorn worker) over `store`, with previews on."""
    settings = Settings(
        bootstrap_admin="root",
        bootstrap_token=ROOT_TOKEN,
        preview_domain=DOMAIN,
        preview_secret=SECRET,
        preview_sign_in_url="http://console.localhost/",
    )
    app = create_app(settings, store, clock=lambda: NOW)  # type: ignore[arg-type]  # memory_store stands in for api.store.Store
    return app.test_client()


@pytest.fixture
def client() -> FlaskClient:
    store = MemoryStore()
    store.save_template({"metadata": {"name": "go"}, "spec": {"image": "x"}}, create=True)
    client = api_process(store)
    root = {"Authorization": f"Bearer {ROOT_TOKEN}"}
    assert client.post("/api/v1/users", json={"name": "alice"}, headers=root).status_code == 201
    store.create_workspace({"apiVersion": crd.API_VERSION, "kind": crd.WORKSPACE_KIND, **WORKSPACE})
    return client


def auth(client: FlaskClient, host: str, uri: str = "/") -> tuple[int, dict]:
    answer = client.get("/preview/auth", headers={"X-Forwarded-Host": host, "X-Forwarded-Uri": uri})
    return answer.status_code, dict(answer.headers)


def test_the_owner_opens_a_port_through_a_grant(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    assert auth(client, "3000--alice-ws.localhost:8080")[0] == 302
    token = client.post(
        "/api/v1/users/alice/tokens", json={"name": "t"}, headers={"Authorization": f"Bearer {ROOT_TOKEN}"}
    ).get_json()["token"]
    answer = client.post(
        "/api/v1/preview/grants",
        json={"url": "http://3000--alice-ws.localhost:8080/"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201
    link = urlsplit(answer.get_json()["url"])
    status, headers = auth(client, "3000--alice-ws.localhost:8080", f"{link.path}?{link.query}")
    assert status == 302
    client.set_cookie(pa.COOKIE, headers["Set-Cookie"].split(";")[0].split("=", 1)[1], domain="localhost")
    with caplog.at_level(logging.INFO, logger="cps1.audit"):
        assert auth(client, "3000--alice-ws.localhost:8080")[0] == 200
        assert auth(client, "3000--alice-ws.localhost:8080")[0] == 200
    opened = [r for r in caplog.records if getattr(r, "action", "") == "open port"]
    assert [getattr(r, "actor", "") for r in opened] == ["alice"]
    assert (
        client.application.extensions["cps1"].store.workspace("alice-ws")["metadata"]["annotations"][
            crd.ANNOTATION_LAST_ACTIVITY_SOURCE
        ]
        == "port"
    )


def test_of_two_api_processes_that_read_the_same_workspace_one_records_the_activity(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A page and its favicon through two gunicorn workers: both hold the Workspace from before
    either recorded port activity; the API server takes the first patch and refuses the other's."""
    host = "3000--alice-ws.localhost"
    other = api_process(client.application.extensions["cps1"].store)
    cookie = pa.sign(pa.claims("alice", host, pa.SESSION, NOW, 60), SECRET)
    for worker in (client, other):
        assert auth(worker, host)[0] == 302  # signed out: each reads (and caches) the Workspace
        worker.set_cookie(pa.COOKIE, cookie, domain="localhost")
    with caplog.at_level(logging.INFO, logger="cps1.audit"):
        assert [auth(worker, host)[0] for worker in (client, other, other)] == [200, 200, 200]
    opened = [r for r in caplog.records if getattr(r, "action", "") == "open port"]
    assert [getattr(r, "actor", "") for r in opened] == ["alice"]


def test_a_workspace_deleted_meanwhile_does_not_fail_the_request(client: FlaskClient) -> None:
    host = "3000--alice-ws.localhost"
    assert auth(client, host)[0] == 302  # the Workspace is read (and cached) here
    client.application.extensions["cps1"].store.delete_workspace("alice-ws")
    cookie = pa.sign(pa.claims("alice", host, pa.SESSION, NOW, 60), SECRET)
    client.set_cookie(pa.COOKIE, cookie, domain="localhost")
    assert auth(client, host)[0] == 200
