"""The CLI speaks to the API through apiclient: quoted paths, the API's field details on
stderr, and local mistakes refused before any request."""

import pytest

from cps1 import cli
from tests.unit.apiclient.test_client import TOKEN, Recorder, reply, server  # noqa: F401


@pytest.fixture
def logged_in(server: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    monkeypatch.setenv("CPS1_API_URL", server)
    monkeypatch.setenv("CPS1_TOKEN", TOKEN)
    return server


def test_field_details_reach_the_terminal(logged_in: str, capsys: pytest.CaptureFixture[str]) -> None:
    reply(422, {"message": "Validation error", "detail": {"json": {"name": ["not a valid name"]}}})
    assert cli.main(["ws", "create", "Bad", "--template", "go"]) == 1
    assert capsys.readouterr().err == "cps1: Validation error (HTTP 422)\n- name: not a valid name\n"


def test_names_and_filters_are_quoted(logged_in: str, capsys: pytest.CaptureFixture[str]) -> None:
    reply(200, {"items": []})
    reply(404, {"message": "workspace 'a/b' not found", "detail": {}})
    assert cli.main(["ws", "list", "--owner", "a&b"]) == 0
    assert cli.main(["ws", "start", "a/b"]) == 1
    assert [path for _, path, _ in Recorder.seen] == [
        "/api/v1/workspaces?owner=a%26b",
        "/api/v1/workspaces/a%2Fb/start",
    ]


def test_a_bad_param_is_refused_before_any_request(logged_in: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ws", "create", "w", "--template", "go", "--param", "cpu"]) == 1
    assert "--param takes key=value" in capsys.readouterr().err
    assert Recorder.seen == []


def test_unauthorized_says_to_log_in(logged_in: str, capsys: pytest.CaptureFixture[str]) -> None:
    reply(401, {"message": "authentication required", "detail": {}})
    assert cli.main(["template", "list"]) == 1
    assert "Run `cps1 login" in capsys.readouterr().err
