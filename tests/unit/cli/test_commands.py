"""The CLI speaks to the API through apiclient: quoted paths, the API's field details on
stderr, and local mistakes refused before any request."""

import io
import json

import pytest

from common import previews
from cps1 import cli, commands
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


def test_port_changes_keep_the_other_ports() -> None:
    ports = [{"port": 3000, "share": "owner", "name": "web"}, {"port": 5000, "share": "public"}]
    assert previews.with_port(ports, 3000, share="authenticated") == [
        {"port": 3000, "share": "authenticated", "name": "web"},
        {"port": 5000, "share": "public"},
    ]
    assert previews.with_port(ports, 4000) == [ports[0], {"port": 4000, "share": "owner"}, ports[1]]
    assert previews.with_port(ports, 3000, remove=True) == [ports[1]]


def test_open_names_the_ide_or_a_served_port() -> None:
    ws = {
        "name": "w",
        "ideURL": "http://w.localhost/",
        "previews": [{"port": 3000, "url": "http://3000--w.localhost/"}],
    }
    assert commands.url_of(ws, None) == "http://w.localhost/"
    assert commands.url_of(ws, 3000) == "http://3000--w.localhost/"
    with pytest.raises(commands.CommandFailed, match="does not serve port 4000"):
        commands.url_of(ws, 4000)


def test_a_secret_value_comes_from_stdin_never_the_command_line(
    logged_in: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("tok-123\n"))
    reply(200, {"name": "gh", "kind": "git-credential", "created": "", "lastUsed": "", "host": "github.com"})
    reply(
        200, {"items": [{"name": "gh", "kind": "git-credential", "host": "github.com", "created": "c", "lastUsed": ""}]}
    )
    reply(204, None)
    assert cli.main(["secret", "set", "gh", "--kind", "git-credential", "--host", "github.com"]) == 0
    assert cli.main(["secret", "list"]) == 0
    assert cli.main(["secret", "rm", "gh"]) == 0
    assert [(method, path) for method, path, _ in Recorder.seen] == [
        ("PUT", "/api/v1/me/secrets/gh"),
        ("GET", "/api/v1/me/secrets"),
        ("DELETE", "/api/v1/me/secrets/gh"),
    ]
    assert json.loads(Recorder.bodies[0]) == {"kind": "git-credential", "value": "tok-123", "host": "github.com"}
    out = capsys.readouterr().out
    assert "github.com" in out and "tok-123" not in out


def test_profile_changes_only_the_fields_given(logged_in: str, capsys: pytest.CaptureFixture[str]) -> None:
    reply(200, {"gitName": "A", "gitEmail": "a@x", "dotfiles": ""})
    reply(200, {"gitName": "A", "gitEmail": "a@x", "dotfiles": "https://g/d"})
    assert cli.main(["profile", "--dotfiles", "https://g/d"]) == 0
    assert json.loads(Recorder.bodies[1]) == {"gitName": "A", "gitEmail": "a@x", "dotfiles": "https://g/d"}
    assert "dotfiles: https://g/d" in capsys.readouterr().out
