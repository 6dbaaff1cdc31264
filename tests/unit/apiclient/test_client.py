"""The client's transport contract on loopback: paths, headers, and every failure as an
ApiError. (Against the real API it is exercised by tests/e2e/test_console*.py.)"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from apiclient import errors
from apiclient.client import ApiClient
from cps1.localcluster.processes import free_port

TOKEN = "cps1_0123456789ab_" + "s" * 40
DROP = 0  # a queued "answer" that closes the connection instead


class Recorder(BaseHTTPRequestHandler):
    """Answers with whatever the test queued, and records what it was asked."""

    answers: ClassVar[list[tuple[int, str, bytes]]] = []
    seen: ClassVar[list[tuple[str, str, dict]]] = []
    bodies: ClassVar[list[bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Recorder.bodies.append(self.rfile.read(length))
        Recorder.seen.append((self.command, self.path, dict(self.headers)))
        status, content_type, body = Recorder.answers.pop(0)
        if status == DROP:  # close the connection without an answer, as a reloading ingress may
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.answers, Recorder.seen, Recorder.bodies = [], [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def reply(status: int, body: object, content_type: str = "application/json") -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    Recorder.answers.append((status, content_type, data))


def test_bearer_token_paths_and_query(server: str) -> None:
    reply(200, {"items": [{"name": "a"}]})
    reply(204, b"")
    client = ApiClient(server + "/", token=TOKEN)
    assert client.workspaces(owner="bob", phase="Running") == [{"name": "a"}]
    client.remove_key("SHA256:ab+c/d")
    (get, path, headers), (delete, key_path, _) = Recorder.seen
    assert (get, path) == ("GET", "/api/v1/workspaces?owner=bob&phase=Running")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert (delete, key_path) == ("DELETE", "/api/v1/me/keys/SHA256:ab%2Bc/d")


def test_a_name_stays_one_path_segment(server: str) -> None:
    reply(404, {"message": "not found", "detail": {}})
    with pytest.raises(errors.ApiError):
        ApiClient(server, token=TOKEN).workspace("../users?x=1")
    assert Recorder.seen[0][1] == "/api/v1/workspaces/..%2Fusers%3Fx%3D1"


def test_proxy_identity_is_sent_only_without_a_token(server: str) -> None:
    reply(200, {"name": "carol"})
    reply(200, {"name": "root"})
    ApiClient(server, proxy_header="X-Forwarded-User", proxy_user="carol", proxy_secret="s3cret").me()
    ApiClient(server, token=TOKEN, proxy_header="X-Forwarded-User", proxy_user="carol", proxy_secret="s3cret").me()
    assert Recorder.seen[0][2]["X-Forwarded-User"] == "carol" and "Authorization" not in Recorder.seen[0][2]
    assert Recorder.seen[0][2]["X-CPS1-Proxy-Secret"] == "s3cret"
    assert "X-Forwarded-User" not in Recorder.seen[1][2] and "X-CPS1-Proxy-Secret" not in Recorder.seen[1][2]


def test_errors_carry_status_message_and_fields_but_never_the_token(server: str) -> None:
    reply(422, {"message": "invalid parameters", "detail": {"fields": {"parameters.cpu": "too big"}}})
    with pytest.raises(errors.ApiError) as caught:
        ApiClient(server, token=TOKEN).create_workspace({"name": "x"})
    assert (caught.value.status, caught.value.message) == (422, "invalid parameters")
    assert caught.value.fields == {"parameters.cpu": "too big"}
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.args)


def test_401_is_unauthorized(server: str) -> None:
    reply(401, {"message": "authentication required", "detail": {}})
    with pytest.raises(errors.Unauthorized):
        ApiClient(server, token=TOKEN).me()


def test_an_answer_that_is_not_json(server: str) -> None:
    reply(502, b"<html>Bad Gateway</html>", "text/html")
    reply(200, b"<html>a login page</html>", "text/html")
    client = ApiClient(server, token=TOKEN)
    with pytest.raises(errors.ApiError) as bad_gateway:
        client.templates()
    assert (bad_gateway.value.status, bad_gateway.value.message) == (502, "Bad Gateway")
    with pytest.raises(errors.ApiError, match="not JSON"):
        client.templates()


def test_nothing_listening_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(errors.Unreachable) as caught:
        ApiClient(url, token=TOKEN, timeout=2).me()
    assert caught.value.status == 0 and url in caught.value.message and TOKEN not in str(caught.value)


def test_an_unanswered_get_is_sent_once_more(server: str) -> None:
    reply(DROP, b"")
    reply(200, {"user": "dana"})
    assert ApiClient(server, token=TOKEN).me() == {"user": "dana"}
    assert [(method, path) for method, path, _ in Recorder.seen] == [("GET", "/api/v1/me")] * 2


def test_a_get_unanswered_twice_is_unreachable(server: str) -> None:
    reply(DROP, b"")
    reply(DROP, b"")
    with pytest.raises(errors.Unreachable):
        ApiClient(server, token=TOKEN).me()
    assert len(Recorder.seen) == 2


def test_an_unanswered_post_is_not_sent_again(server: str) -> None:
    reply(DROP, b"")
    with pytest.raises(errors.Unreachable):
        ApiClient(server, token=TOKEN).oidc_token("id-token")
    assert [(method, path) for method, path, _ in Recorder.seen] == [("POST", "/api/v1/oidc/token")]
