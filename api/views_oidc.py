"""/api/v1/oidc: sign-in through the company's OpenID Provider (docs/sso.md).

Browsers: `login` sends the browser to the provider (authorization code flow, PKCE S256, state
and nonce kept in a short-lived signed cookie), `callback` exchanges the code (Authlib),
checks the ID token (api/oidc.py), creates or refreshes the user and hands the console a CPS1
session token in the HTTP-only `cps1_session` cookie (the console reads it server-side; no
page script ever sees it), `logout` revokes that token, clears the cookie and ends the
provider's session (without the proof only CPS1's pages can compute, a navigation gets a page
asking to confirm: no other page can sign a person out). The CLI signs in with the device
authorization grant (or a loopback redirect) itself and trades the ID token for a session token
at `token`. Provider tokens are never stored: the session is ours, and it ends when it expires
or the user signs out.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import urlencode

import requests
from apiflask import APIBlueprint, abort
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from api import oidc, schemas
from api.context import context
from common import accounts
from common.timefmt import format_time, parse_time

SESSION_COOKIE = "cps1_session"
FLOW_COOKIE = "cps1_oidc_flow"
FLOW_SECONDS = 600
SESSION_TOKEN_NAME = "sign-in"
PREFIX = "/api/v1/oidc"
HTTP_TIMEOUT = 10

bp = APIBlueprint("oidc", __name__, url_prefix=PREFIX, tag="Sign-in")


def _fetch(url: str) -> dict[str, Any]:
    try:
        answer = requests.get(url, timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        return dict(answer.json())
    except (requests.RequestException, ValueError) as err:
        raise oidc.ProviderUnreachable(f"the identity provider could not be reached: {err}") from err


def provider() -> oidc.Provider:
    """This app's provider (metadata and keys cached for the process)."""
    settings = context().settings
    if not settings.oidc_enabled:
        abort(404, "sign-in through an identity provider is not configured")
    found = current_app.extensions.get("cps1_oidc")
    if found is None:
        found = current_app.extensions["cps1_oidc"] = oidc.Provider(settings.oidc_issuer, _fetch)
    return found


def _serializer() -> URLSafeTimedSerializer:
    """Signs the flow cookie with a key derived from the client secret, which every replica has."""
    secret = context().settings.oidc_client_secret.encode()
    return URLSafeTimedSerializer(hmac.new(secret, b"cps1-oidc-flow", hashlib.sha256).hexdigest(), salt="cps1-oidc")


def _oauth() -> OAuth2Session:
    settings = context().settings
    return OAuth2Session(
        settings.oidc_client_id,
        settings.oidc_client_secret,
        scope=settings.oidc_scopes,
        redirect_uri=settings.public_url.rstrip("/") + PREFIX + "/callback",
        code_challenge_method="S256",
    )


def _refuse(err: oidc.SignInError) -> NoReturn:
    """Answer a refused sign-in: 502 when the provider is out of reach, else 403."""
    abort(502 if isinstance(err, oidc.ProviderUnreachable) else 403, f"sign-in refused: {err}")


def _sign_in(claims: dict[str, Any]) -> tuple[str, str, str]:
    """Create or refresh the user the claims name and open a session: (user, token, expiry).
    A user the admins disabled, or one bound to another provider account, stays out."""
    ctx = context()
    settings, store = ctx.settings, ctx.store
    who = oidc.identity(
        claims,
        username_claim=settings.oidc_username_claim,
        groups_claim=settings.oidc_groups_claim,
        admin_groups=settings.oidc_admin_groups,
    )
    refused = oidc.refusal(store.user_configmap(who.name), who)
    if refused:
        raise oidc.SignInError(refused)
    store.ensure_user(
        who.name,
        admin=who.admin if settings.oidc_admin_groups else None,
        groups=list(who.groups),
        subject=who.subject,
    )
    ctx.authenticator.forget_user(who.name)
    now = ctx.now()
    for record in store.tokens(who.name):  # sessions that ended without a sign-out
        ended = parse_time(record.expires)
        if record.name == SESSION_TOKEN_NAME and ended and ended <= now:
            store.delete_token(record.id)
    expires = now + timedelta(hours=settings.oidc_session_hours)
    _, token = store.create_token(who.name, SESSION_TOKEN_NAME, expires)
    return who.name, token, format_time(expires)


@bp.get("")
@bp.output(schemas.OidcConfig)
def config() -> dict[str, Any]:
    """Whether sign-in through an identity provider is on, and where it starts."""
    settings = context().settings
    if not settings.oidc_enabled:
        return {"enabled": False}
    return {
        "enabled": True,
        "provider": settings.oidc_provider_name,
        "issuer": settings.oidc_issuer,
        "loginUrl": settings.public_url.rstrip("/") + PREFIX + "/login",
        "logoutUrl": settings.public_url.rstrip("/") + PREFIX + "/logout",
        "cliClientId": settings.oidc_cli_client_id,
        "scopes": settings.oidc_scopes,
    }


@bp.get("/login")
@bp.doc(hide=True)  # a browser redirect, not an API operation
def login() -> Response:
    try:
        endpoint = provider().endpoint("authorization_endpoint")
    except oidc.SignInError as err:
        _refuse(err)
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
    }
    url, _ = _oauth().create_authorization_url(
        endpoint, state=flow["state"], nonce=flow["nonce"], code_verifier=flow["verifier"]
    )
    response = redirect(url)
    _set_private_cookie(response, FLOW_COOKIE, _serializer().dumps(flow), FLOW_SECONDS, PREFIX)
    return response


def _set_private_cookie(response: Response, name: str, value: str, seconds: int, path: str) -> None:
    """A cookie page scripts cannot read, sent back on top-level navigations from other sites
    (the provider's redirect) but not on their sub-requests."""
    secure = context().settings.session_cookie_secure
    response.set_cookie(name, value, max_age=seconds, path=path, secure=secure, httponly=True, samesite="Lax")


@bp.get("/callback")
@bp.doc(hide=True)  # a browser redirect, not an API operation
def callback() -> Response:
    ctx = context()
    settings = ctx.settings
    try:
        flow = _serializer().loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_SECONDS)
    except BadSignature:
        abort(400, "this sign-in expired or was started elsewhere; sign in again")
    if not hmac.compare_digest(str(flow.get("state")), request.args.get("state", "")):
        abort(400, "this sign-in does not match the one this browser started; sign in again")
    if "error" in request.args:
        reason = request.args.get("error_description") or request.args["error"]
        abort(403, f"the identity provider refused the sign-in: {reason}")
    try:
        known = provider()
        exchanged = _oauth().fetch_token(
            known.endpoint("token_endpoint"),
            code=request.args.get("code", ""),
            code_verifier=flow["verifier"],
            timeout=HTTP_TIMEOUT,
        )
        claims = oidc.verify_id_token(
            str(exchanged.get("id_token", "")),
            known,
            audience=settings.oidc_client_id,
            nonce=flow["nonce"],
            now=int(ctx.now().timestamp()),
            leeway=settings.oidc_leeway_seconds,
        )
        _, token, _ = _sign_in(claims)
    except oidc.SignInError as err:
        _refuse(err)
    except (OAuthError, requests.RequestException) as err:
        _refuse(oidc.SignInError(f"the provider did not take the sign-in code: {err}"))
    response = redirect(settings.console_url)
    response.delete_cookie(FLOW_COOKIE, path=PREFIX)
    _set_private_cookie(response, SESSION_COOKIE, token, settings.oidc_session_hours * 3600, "/")
    return response


CONFIRM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sign out of CPS1</title></head>
<body><form method="post"><p>Sign out of CPS1?</p><input type="hidden" name="proof" value="{proof}">
<button type="submit">Sign out</button></form></body></html>"""


def sign_out_allowed(fetch_site: str, proof: str, session_token: str) -> bool:
    """Whether a sign-out comes from CPS1's own pages (logout CSRF): it carries the proof only
    they can compute from the HTTP-only session cookie (the console's link, the confirm form),
    or the browser says the person typed it or it came from this origin (Fetch Metadata). Same
    site is not enough: a public preview URL serves a Workspace's own pages on a sibling host."""
    if fetch_site.lower() in ("same-origin", "none"):
        return True
    return bool(session_token) and hmac.compare_digest(proof, accounts.sign_out_proof(session_token))


def _sign_out_allowed(proof: str) -> bool:
    """sign_out_allowed for this request, with `proof` from its query or form."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return sign_out_allowed(request.headers.get("Sec-Fetch-Site", ""), proof, token)


@bp.get("/logout")
@bp.doc(hide=True)  # a browser redirect, not an API operation
def logout_link() -> Response:
    """The console's Sign out link; any other page's gets a confirm page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not _sign_out_allowed(request.args.get("proof", "")):
        page = CONFIRM_PAGE.format(proof=accounts.sign_out_proof(token) if token else "")
        # Never in another site's frame: a click there would be a click here.
        headers = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
        return Response(page, status=200, headers=headers, content_type="text/html; charset=utf-8")
    return _logout()


@bp.post("/logout")
@bp.doc(hide=True)  # a browser form, not an API operation
def logout_form() -> Response:
    """The confirm page's form."""
    if not _sign_out_allowed(request.form.get("proof", "")):
        abort(403, "sign out from CPS1's own pages")
    return _logout()


def _logout() -> Response:
    ctx = context()
    settings = ctx.settings
    token = request.cookies.get(SESSION_COOKIE, "")
    token_id = accounts.token_id(token)
    if token_id:
        record = ctx.store.token(token_id)
        if record and record.name == SESSION_TOKEN_NAME and accounts.token_matches(token, record.hash):
            ctx.store.delete_token(token_id)
            ctx.authenticator.forget_token(token_id)
    target = settings.console_url
    try:
        end = provider().metadata().get("end_session_endpoint")
    except oidc.SignInError:
        end = None
    if end:
        query = {"client_id": settings.oidc_client_id, "post_logout_redirect_uri": settings.console_url}
        target = f"{end}?{urlencode(query)}"
    response = redirect(target, code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.session_cookie_secure, httponly=True)
    return response


@bp.post("/token")
@bp.input(schemas.IdTokenIn, location="json")
@bp.output(schemas.OidcSession, status_code=201)
@bp.doc(responses=[201, 403, 404, 422, 502])
def token(json_data: dict[str, str]) -> dict[str, str]:
    """Trade the ID token of the CLI's device sign-in for a CPS1 session token."""
    ctx = context()
    settings = ctx.settings
    if not settings.oidc_cli_client_id:
        abort(404, "the CLI cannot sign in through the identity provider here")
    try:
        claims = oidc.verify_id_token(
            json_data["idToken"],
            provider(),
            audience=settings.oidc_cli_client_id,
            nonce=None,
            now=int(ctx.now().timestamp()),
            leeway=settings.oidc_leeway_seconds,
        )
        user, session, expires = _sign_in(claims)
    except oidc.SignInError as err:
        _refuse(err)
    return {"user": user, "token": session, "expires": expires}
