"""Users' own secrets and profile through the api: write-only (no answer and no log line ever
holds a value), each user's own, and named by Workspaces only when their owner has them."""

import logging

import pytest

from common import usersecrets
from tests.unit.api.conftest import Caller
from tests.unit.api.memory_store import MemoryStore

VALUE = "s3cr3t-value-that-must-not-leak"


def test_a_secret_is_stored_listed_and_removed_but_never_shown(callers: dict[str, Caller]) -> None:
    alice = callers["alice"]
    status, body = alice("PUT", "/me/secrets/NPM_TOKEN", {"kind": "env", "value": VALUE})
    assert status == 200 and VALUE not in str(body)
    assert body == {"name": "NPM_TOKEN", "kind": "env", "created": "2026-11-22T12:00:00Z", "lastUsed": ""}
    status, listed = alice("GET", "/me/secrets")
    assert status == 200 and listed["items"] == [body]
    assert callers["bob"]("GET", "/me/secrets")[1]["items"] == []
    assert callers["bob"]("DELETE", "/me/secrets/NPM_TOKEN")[0] == 404
    assert alice("DELETE", "/me/secrets/NPM_TOKEN")[0] == 204
    assert alice("GET", "/me/secrets")[1]["items"] == []
    assert callers["anonymous"]("GET", "/me/secrets")[0] == 401


def test_a_git_credential_needs_a_host_and_shows_it(callers: dict[str, Caller]) -> None:
    alice = callers["alice"]
    status, body = alice("PUT", "/me/secrets/gh", {"kind": "git-credential", "value": VALUE})
    assert status == 422 and "host" in body["detail"]["fields"]
    status, body = alice("PUT", "/me/secrets/gh", {"kind": "git-credential", "value": VALUE, "host": "github.com"})
    assert status == 200 and body["host"] == "github.com"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("1BAD", {"kind": "env", "value": "x"}),
        ("ok", {"kind": "ssh", "value": "x"}),
        ("ok", {"kind": "env", "value": "two\nlines"}),
        ("ok", {"kind": "env", "value": ""}),
    ],
)
def test_bad_secrets_are_refused_by_field(callers: dict[str, Caller], name: str, body: dict) -> None:
    assert callers["alice"]("PUT", f"/me/secrets/{name}", body)[0] == 422


def test_replacing_keeps_created_and_a_start_records_last_use(callers: dict[str, Caller]) -> None:
    alice = callers["alice"]
    alice("PUT", "/me/secrets/TOKEN", {"kind": "env", "value": "one"})
    assert alice("PUT", "/me/secrets/TOKEN", {"kind": "file", "value": "two"})[1]["kind"] == "file"
    assert alice("PATCH", "/workspaces/alice-ws", {"secrets": ["TOKEN"]})[0] == 200
    assert alice("POST", "/workspaces/alice-ws/start")[0] == 200
    (item,) = alice("GET", "/me/secrets")[1]["items"]
    assert item["created"] == "2026-11-22T12:00:00Z" and item["lastUsed"] == "2026-11-22T12:00:00Z"
    assert alice("GET", "/workspaces/alice-ws")[1]["secrets"] == ["TOKEN"]


def test_a_workspace_names_only_its_owners_secrets(callers: dict[str, Caller]) -> None:
    callers["bob"]("PUT", "/me/secrets/BOBS", {"kind": "env", "value": VALUE})
    status, body = callers["alice"]("PATCH", "/workspaces/alice-ws", {"secrets": ["BOBS"]})
    assert status == 422 and "secrets.BOBS" in body["detail"]["fields"]
    status, _ = callers["alice"]("POST", "/workspaces", {"name": "w2", "template": "go", "secrets": ["BOBS"]})
    assert status == 422


def test_a_secret_of_another_user_or_writer_is_not_believed(store: MemoryStore, callers: dict[str, Caller]) -> None:
    callers["alice"]("PUT", "/me/secrets/TOKEN", {"kind": "env", "value": VALUE})
    stored = store.objects[("Secret", usersecrets.secret_object("alice", "TOKEN"))]
    assert usersecrets.secret_record(stored) is not None
    relabelled = {**stored, "metadata": {**stored["metadata"], "labels": usersecrets.labels("bob")}}
    assert usersecrets.secret_record(relabelled) is None
    assert usersecrets.secret_record({**stored, "type": "Opaque"}) is None


def test_the_profile_round_trips_and_is_checked(callers: dict[str, Caller]) -> None:
    alice = callers["alice"]
    assert alice("GET", "/me/profile")[1] == {"gitName": "", "gitEmail": "", "dotfiles": ""}
    profile = {"gitName": "Alice A", "gitEmail": "alice@example.com", "dotfiles": "https://git.example/alice/dots"}
    assert alice("PUT", "/me/profile", profile) == (200, profile)
    assert alice("GET", "/me/profile")[1] == profile
    assert callers["bob"]("GET", "/me/profile")[1]["gitName"] == ""
    assert alice("PUT", "/me/profile", {"dotfiles": "file:///etc"})[0] == 422


def test_no_log_line_holds_a_value(callers: dict[str, Caller], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        callers["alice"]("PUT", "/me/secrets/TOKEN", {"kind": "env", "value": VALUE})
        callers["alice"]("GET", "/me/secrets")
    assert caplog.records and not [r for r in caplog.records if VALUE in str(vars(r))]
