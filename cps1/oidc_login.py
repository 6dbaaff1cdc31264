"""`cps1 login --oidc`: sign in through the identity provider the API names (GET /api/v1/oidc),
then trade the ID token at the API for a CPS1 session token.

Two flows, as the issue's anchors (gh, gcloud, Coder's CLI) offer them:
- the device authorization grant (RFC 8628), used when the provider offers it to the CLI's
  client: the person confirms a code in any browser, on any machine (an SSH session, a
  Workspace);
- else the authorization code flow with PKCE and a loopback redirect (RFC 8252): the CLI listens
  on 127.0.0.1 on a free port for the one redirect that carries the code, and the person signs in
  in a browser on this machine (`--browser` chooses it even where the device grant is offered).
The CLI never sees a password and keeps no provider token (only the CPS1 session token, like
`--token`).
"""

import secrets
import sys
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from apiclient.client import ApiClient

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
HTTP_TIMEOUT = 15
SLOW_DOWN_SECONDS = 5
LOOPBACK = "127.0.0.1"
CALLBACK_PATH = "/callback"
BROWSER_WAIT_SECONDS = 300
# How providers refuse a client the device grant: RFC 6749's unauthorized_client (Keycloak, Okta),
# or invalid_request (oidc-provider: "...device_code is not allowed for this client").
REFUSED_GRANT = ("unauthorized_client", "invalid_request")
DONE_PAGE = b"<!doctype html><title>CPS1</title><p>Signed in to CPS1. You can close this tab.</p>"
FAILED_PAGE = b"<!doctype html><title>CPS1</title><p>The sign-in failed; see the terminal.</p>"

Say = Callable[[str], None]


class OidcLoginFailed(Exception):
    """The sign-in did not happen; the message says why, in the person's terms."""


class DeviceGrantRefused(OidcLoginFailed):
    """The provider has the device grant but not for the CLI's client: use the browser flow."""


@dataclass(frozen=True)
class Step:
    """What to do after one poll of the token endpoint."""

    wait: float = 0.0
    id_token: str = ""


def next_step(status: int, answer: dict[str, Any], interval: float) -> Step:
    """RFC 8628 section 3.5: keep waiting, wait longer, stop with the ID token, or fail."""
    if status == 200:
        return Step(id_token=id_token_of(answer))
    error = answer.get("error")
    if error == "authorization_pending":
        return Step(wait=interval)
    if error == "slow_down":
        return Step(wait=interval + SLOW_DOWN_SECONDS)
    if error == "access_denied":
        raise OidcLoginFailed("the sign-in was denied in the browser")
    if error == "expired_token":
        raise OidcLoginFailed("the code expired before it was confirmed; run `cps1 login --oidc` again")
    raise OidcLoginFailed(f"the identity provider refused: {answer.get('error_description') or error or status}")


def id_token_of(answer: dict[str, Any]) -> str:
    if not answer.get("id_token"):
        raise OidcLoginFailed("the identity provider sent no ID token (is the 'openid' scope allowed?)")
    return str(answer["id_token"])


def use_device_grant(metadata: dict[str, Any], browser: bool) -> bool:
    """The device grant unless the person asked for the browser or the provider lacks it."""
    return not browser and bool(metadata.get("device_authorization_endpoint"))


def redirect_result(query: str, state: str) -> str:
    """The code in the provider's redirect to the loopback listener (RFC 6749 section 4.1.2),
    after checking it answers this sign-in (`state`); OidcLoginFailed otherwise."""
    params = {key: values[0] for key, values in parse_qs(query).items()}
    if not secrets.compare_digest(params.get("state", ""), state):
        raise OidcLoginFailed("the browser came back from another sign-in; run `cps1 login --oidc` again")
    if "error" in params:
        raise OidcLoginFailed(f"the identity provider refused: {params.get('error_description') or params['error']}")
    if not params.get("code"):
        raise OidcLoginFailed("the identity provider sent the browser back without a code")
    return params["code"]


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def oidc_login(
    api: ApiClient,
    say: Say,
    *,
    browser: bool = False,
    open_browser: Callable[[str], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Sign in through the API's identity provider; {user, token, expires} of the new session.
    `open_browser` opens the loopback flow's address (by default only from a terminal)."""
    config = api.oidc_config()
    if not config.get("enabled") or not config.get("cliClientId"):
        raise OidcLoginFailed("this CPS1 does not offer sign-in through an identity provider to the CLI")
    http = requests.Session()
    metadata = _json(http.get(config["issuer"].rstrip("/") + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT))
    if not metadata.get("token_endpoint"):
        raise OidcLoginFailed(f"{config['issuer']} has no OpenID discovery document with a token endpoint")
    if use_device_grant(metadata, browser):
        try:
            return api.oidc_token(_device_flow(http, metadata, config, say, sleep))
        except DeviceGrantRefused as err:
            say(f"{err}; signing in with a browser on this machine instead")
    if open_browser is None:
        open_browser = webbrowser.open if sys.stdin.isatty() and sys.stdout.isatty() else (lambda url: None)
    return api.oidc_token(_loopback_flow(metadata, config, say, open_browser))


def _device_flow(
    http: requests.Session, metadata: dict[str, Any], config: dict[str, Any], say: Say, sleep: Callable[[float], None]
) -> str:
    """RFC 8628: the ID token once the person confirmed the code."""
    client = {"client_id": config["cliClientId"]}
    started = http.post(
        metadata["device_authorization_endpoint"],
        data={**client, "scope": config.get("scopes") or "openid"},
        timeout=HTTP_TIMEOUT,
    )
    grant = _json(started)
    if grant.get("error") in REFUSED_GRANT:
        why = grant.get("error_description") or grant["error"]
        client_id = config["cliClientId"]
        raise DeviceGrantRefused(f"{config['issuer']} does not allow the device grant to {client_id} ({why})")
    if started.status_code != 200 or "device_code" not in grant:
        raise OidcLoginFailed(f"the identity provider refused to start: {grant.get('error_description') or grant}")
    where = grant.get("verification_uri_complete") or grant["verification_uri"]
    say(f"To sign in, open {where} and confirm the code {grant['user_code']}")
    interval = float(grant.get("interval") or 5)
    deadline = time.monotonic() + float(grant.get("expires_in") or 600)
    while time.monotonic() < deadline:
        sleep(interval)
        polled = http.post(
            metadata["token_endpoint"],
            data={**client, "grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
            timeout=HTTP_TIMEOUT,
        )
        step = next_step(polled.status_code, _json(polled), interval)
        if step.id_token:
            return step.id_token
        interval = step.wait
    raise OidcLoginFailed("the code expired before it was confirmed; run `cps1 login --oidc` again")


class _Redirect(BaseHTTPRequestHandler):
    """Takes the provider's redirect: keeps its query for the flow, shows a short page."""

    server: "_Listener"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != CALLBACK_PATH:
            self.send_error(404)
            return
        self.server.query = url.query
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(DONE_PAGE if "code=" in url.query else FAILED_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
        return


class _Listener(HTTPServer):
    query: str | None = None


def _loopback_flow(
    metadata: dict[str, Any], config: dict[str, Any], say: Say, open_browser: Callable[[str], object]
) -> str:
    """RFC 8252 with PKCE: the ID token from the code the browser brings to our loopback port."""
    authorize = metadata.get("authorization_endpoint")
    if not authorize:
        raise OidcLoginFailed(f"{config['issuer']} offers neither the device grant nor an authorization endpoint")
    with _Listener((LOOPBACK, 0), _Redirect) as listener:
        redirect_uri = f"http://{LOOPBACK}:{listener.server_address[1]}{CALLBACK_PATH}"
        oauth = OAuth2Session(
            config["cliClientId"],
            scope=config.get("scopes") or "openid",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
        )
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        url, _ = oauth.create_authorization_url(authorize, state=state, code_verifier=verifier)
        say(f"To sign in, open {url}")
        open_browser(url)
        listener.timeout = 1.0
        deadline = time.monotonic() + BROWSER_WAIT_SECONDS
        while listener.query is None:
            if time.monotonic() > deadline:
                raise OidcLoginFailed("nobody signed in within 5 minutes; run `cps1 login --oidc` again")
            listener.handle_request()
        code = redirect_result(listener.query, state)
    try:
        answer = oauth.fetch_token(metadata["token_endpoint"], code=code, code_verifier=verifier, timeout=HTTP_TIMEOUT)
    except (OAuthError, requests.RequestException) as err:
        raise OidcLoginFailed(f"the identity provider did not take the sign-in code: {err}") from err
    return id_token_of(dict(answer))
