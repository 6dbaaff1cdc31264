"""The api through Flask's test client over an in-memory store: who may do what (and learns
nothing more when they may not), how each mistake is answered (a 4xx with a message, never a
500), and the audit line every change leaves. The same routes against the real control plane
are tests/e2e/test_api*.py."""

import dataclasses
import logging

import pytest

from api.errors import Conflict, NotFound, Rejected
from tests.unit.api.conftest import SETTINGS, Caller
from tests.unit.api.memory_store import MemoryStore

# (method, path, body) -> expected status for anonymous, alice (the owner), bob, root (admin).
MATRIX = [
    ("GET", "/workspaces/alice-ws", None, (401, 200, 404, 200)),
    ("GET", "/workspaces/alice-ws/events", None, (401, 200, 404, 200)),
    ("POST", "/workspaces/alice-ws/keepalive", {"seconds": 3600}, (401, 200, 404, 200)),
    # Authorization before validation: a body bob may not send at all is a 404, not a 422.
    ("PATCH", "/workspaces/alice-ws", {"idleTimeoutSeconds": "soon"}, (401, 422, 404, 422)),
    ("POST", "/workspaces/alice-ws/keepalive", {"seconds": "x"}, (401, 422, 404, 422)),
    ("GET", "/users", None, (401, 403, 403, 200)),
    ("PATCH", "/users/bob", {"admin": "maybe"}, (401, 403, 403, 422)),
    ("POST", "/templates", {"name": "Bad Name"}, (401, 403, 403, 422)),
    ("POST", "/templates/validate", {}, (401, 403, 403, 422)),
    ("PUT", "/templates/go", {"spec": "x"}, (401, 403, 403, 422)),
    ("DELETE", "/templates/nope", None, (401, 403, 403, 404)),
    ("GET", "/users/alice/tokens", None, (401, 403, 403, 200)),
    ("GET", "/me", None, (401, 200, 200, 200)),
    ("GET", "/templates/go", None, (401, 200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_authorization_matrix(
    callers: dict[str, Caller], method: str, path: str, body: object, expected: tuple[int, ...]
) -> None:
    got = tuple(callers[who](method, path, body)[0] for who in ("anonymous", "alice", "bob", "root"))
    assert got == expected


def test_only_the_owner_and_admins_see_or_change_a_workspace(callers: dict[str, Caller]) -> None:
    assert [w["name"] for w in callers["bob"]("GET", "/workspaces")[1]["items"]] == []
    assert [w["name"] for w in callers["root"]("GET", "/workspaces")[1]["items"]] == ["alice-ws"]
    assert callers["bob"]("DELETE", "/workspaces/alice-ws")[0] == 404
    assert callers["bob"]("POST", "/workspaces/alice-ws/start")[0] == 404
    assert callers["alice"]("GET", "/workspaces/alice-ws")[1]["owner"] == "alice"


def test_a_token_id_of_someone_else_is_not_found(callers: dict[str, Caller]) -> None:
    bobs = callers["bob"]("GET", "/me/tokens")[1]["items"][0]["id"]
    assert callers["alice"]("DELETE", f"/me/tokens/{bobs}")[0] == 404
    assert callers["bob"]("GET", "/me")[0] == 200


@pytest.mark.parametrize(
    ("failure", "status", "message"),
    [
        (
            Rejected(422, "spec.image: Required value", {"spec.image": "Required value"}),
            422,
            "spec.image: Required value",
        ),
        (Rejected(400, "bad request", {}), 422, "bad request"),
        (Rejected(403, "forbidden by admission", {}), 403, "forbidden by admission"),
        (Rejected(500, "etcd is sad", {}), 502, "etcd is sad"),
        (
            Conflict("it already exists or changed meanwhile; retry"),
            409,
            "it already exists or changed meanwhile; retry",
        ),
        (NotFound("not found"), 404, "not found"),
    ],
)
def test_store_errors_map_to_4xx_or_502_with_their_message(
    callers: dict[str, Caller], store: MemoryStore, failure: Exception, status: int, message: str
) -> None:
    store.fail_next = failure
    got, body = callers["alice"]("POST", "/workspaces", {"name": "w2", "template": "go", "running": False})
    assert (got, body["message"]) == (status, message)
    if isinstance(failure, Rejected):
        assert body["detail"]["fields"] == failure.fields


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"name": "w3", "template": "nope"}, 422, "workspace template 'nope' does not exist"),
        ({"name": "w3", "template": "go", "parameters": {"cores": "64"}}, 422, "invalid parameters"),
        ({"name": "W 3", "template": "go"}, 422, "Validation error"),
        ({"name": "w3"}, 422, "Validation error"),
        ("not an object", 422, "Validation error"),
        ({"name": "alice-ws", "template": "go", "running": False}, 409, "already exists"),
    ],
)
def test_user_mistakes_are_4xx_with_a_message(callers: dict[str, Caller], body: object, status: int, text: str) -> None:
    got, answer = callers["alice"]("POST", "/workspaces", body)
    assert got == status and text in answer["message"], answer


def test_odd_paths_and_bodies_are_never_a_500(callers: dict[str, Caller]) -> None:
    alice = callers["alice"]
    assert alice("GET", "/workspaces/..%2Fusers")[0] == 404
    assert alice("GET", "/workspaces/" + "x" * 300)[0] == 404
    assert alice("DELETE", "/me/keys/SHA256:nothing")[0] == 404
    assert alice("POST", "/me/keys", {"key": "ssh-ed25519 not-base64"})[0] == 422
    assert callers["root"]("PATCH", "/users/bob", {"limits": {"cpu": "lots"}})[0] == 422
    assert callers["root"]("PATCH", "/users/nobody", {"admin": True})[0] == 404
    answer = alice.client.post(
        "/api/v1/workspaces", data="{", headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code in (400, 422) and answer.get_json()["message"]


def test_aggregate_limits_are_a_readable_409(callers: dict[str, Caller]) -> None:
    assert callers["root"]("PATCH", "/users/alice", {"limits": {"cpu": "2"}})[1]["limits"] == {"cpu": "2"}
    alice = callers["alice"]
    assert alice("POST", "/workspaces", {"name": "w4", "template": "go", "parameters": {"cores": "2"}})[0] == 201
    status, answer = alice("POST", "/workspaces/alice-ws/start")
    assert (status, answer["message"]) == (
        409,
        "alice's Workspaces would request 3 CPU of alice's 2 CPU limit; stop one first",
    )
    assert alice("POST", "/workspaces/w4/stop")[0] == 200
    assert alice("POST", "/workspaces/alice-ws/start")[0] == 200
    status, answer = alice("PATCH", "/workspaces/alice-ws", {"parameters": {"cores": "3"}})
    assert (status, answer["message"]) == (
        409,
        "alice's Workspaces would request 3 CPU of alice's 2 CPU limit; stop one first",
    )


@pytest.mark.parametrize(
    "settings",
    [dataclasses.replace(SETTINGS, group_limits='{"contractors": {"workspaces": 1}, "leads": {"workspaces": 5}}')],
)
def test_a_groups_limit_applies_to_its_members_and_follows_their_groups(callers: dict[str, Caller]) -> None:
    root, alice = callers["root"], callers["alice"]
    assert alice("GET", "/me")[1]["effectiveLimits"]["workspaces"] == 20  # the installation's
    status, shown = root("PATCH", "/users/alice", {"groups": ["contractors"]})
    assert status == 200 and shown["effectiveLimits"]["workspaces"] == 1 and shown["limits"] == {}
    assert alice("GET", "/me")[1]["effectiveLimits"] == {
        "workspaces": 1,
        "running": 5,
        "cpu": "",
        "memory": "",
        "storage": "",
    }
    status, answer = alice("POST", "/workspaces", {"name": "w2", "template": "go", "running": False})
    assert (status, answer["message"]) == (409, "alice already has 1 of 1 Workspaces; delete one first")
    assert root("PATCH", "/users/alice", {"groups": ["contractors", "leads"]})[0] == 200
    assert alice("POST", "/workspaces", {"name": "w2", "template": "go", "running": False})[0] == 201
    assert callers["bob"]("POST", "/workspaces", {"name": "w3", "template": "go", "running": False})[0] == 201


def test_every_change_leaves_an_audit_line_and_reads_leave_none(
    callers: dict[str, Caller], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cps1.audit"):
        callers["alice"]("GET", "/workspaces/alice-ws")
        callers["alice"]("POST", "/workspaces/alice-ws/start")
        callers["bob"]("DELETE", "/workspaces/alice-ws")
        callers["alice"]("POST", "/workspaces", {"name": "w5", "template": "nope"})
        callers["anonymous"]("DELETE", "/workspaces/alice-ws")
    audits = [vars(r) for r in caplog.records if r.name == "cps1.audit"]
    lines = [(a["actor"], a["action"], a["workspace"], a["status"], a["outcome"]) for a in audits]
    assert lines == [
        ("alice", "POST /api/v1/workspaces/<name>/start", "alice-ws", 200, "ok"),
        ("bob", "DELETE /api/v1/workspaces/<name>", "alice-ws", 404, "denied"),
        ("alice", "POST /api/v1/workspaces", "", 422, "failed"),
        ("", "DELETE /api/v1/workspaces/<name>", "alice-ws", 401, "denied"),
    ]
