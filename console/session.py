"""Who is using the console, kept in the user's Streamlit session and nowhere else.

The API token a user signs in with lives only in ``st.session_state`` (server-side, per
browser tab): never in a file, a URL, a cookie or a log, and gone when the tab closes or the
user signs out. Behind an authenticating proxy (``CPS1_CONSOLE_PROXY_USER_HEADER``), the
proxy's identity header of the page request is forwarded to the API instead, together with the
proxy's shared secret (X-CPS1-Proxy-Secret) from the same request; the API trusts the identity
only with that secret and from CPS1_API_PROXY_TRUSTED_NETWORKS (which must hold the console's
address), so a browser that reaches the console without the proxy cannot name itself.

With sign-in through the company's identity provider (the API's /api/v1/oidc), the API hands
the browser a CPS1 session token in the HTTP-only ``cps1_session`` cookie: the browser sends it
with every page request, this module reads it server-side (``st.context.cookies``) and uses it
as the bearer token; no page script can read it, and signing out at the API clears it.
"""

import streamlit as st

from apiclient.client import ApiClient
from common import accounts
from console import errors
from console.settings import Settings

TOKEN = "cps1.token"
USER = "cps1.user"
NOTICE = "cps1.signin-notice"
SSO = "cps1.sso"
SESSION_COOKIE = "cps1_session"


def settings() -> Settings:
    return Settings.from_env()


def proxy_user(config: Settings) -> str:
    """The user name the authenticating proxy sent with this page, or "" (not configured, or
    absent)."""
    if not config.proxy_user_header:
        return ""
    return str(st.context.headers.get(config.proxy_user_header) or "").strip()


def proxy_secret() -> str:
    """The proxy's shared secret sent with this page, for the API to check."""
    return str(st.context.headers.get(accounts.PROXY_SECRET_HEADER) or "")


def sso_token() -> str:
    """The session token the API's identity-provider sign-in set in this browser's cookie."""
    value = dict(st.context.cookies).get(SESSION_COOKIE)  # AppTest's cookies answer .get() with a mock
    return value if isinstance(value, str) else ""


def client() -> ApiClient:
    """A client with this session's credential: the token signed in with, else the identity
    provider's session cookie, else the proxy's identity, else none (every call then answers
    401)."""
    config = settings()
    token = st.session_state.get(TOKEN, "") or sso_token()
    return ApiClient(
        config.api_url,
        token=token,
        proxy_header=config.proxy_user_header,
        proxy_user="" if token else proxy_user(config),
        proxy_secret="" if token else proxy_secret(),
        timeout=config.timeout_seconds,
    )


def current_user() -> dict | None:
    """``{"name", "admin", ...}`` of the signed-in user, or None. With a proxy identity and no
    token, the first page of a session asks the API who that is; a refusal is kept as a
    notice for the sign-in page rather than raised."""
    if USER in st.session_state:
        return st.session_state[USER]
    config = settings()
    by_sso = bool(sso_token())
    if TOKEN in st.session_state or not (by_sso or proxy_user(config)):
        return None
    try:
        me = client().me()
    except errors.ApiError as err:
        st.session_state[NOTICE] = (
            f"Your sign-in has ended ({errors.describe(err)}); sign in again."
            if by_sso
            else f"Your sign-in through the proxy was not accepted: {errors.describe(err)}"
        )
        return None
    st.session_state[USER] = me
    st.session_state[SSO] = by_sso
    return me


def sign_in(token: str) -> dict:
    """Check the token with the API (``GET /me``) and keep it for this session only."""
    config = settings()
    me = ApiClient(config.api_url, token=token, timeout=config.timeout_seconds).me()
    st.session_state[TOKEN] = token
    st.session_state[USER] = me
    st.session_state.pop(NOTICE, None)
    return me


def sign_out(notice: str = "") -> None:
    """Forget the credential and everything else of this session, form values included, so
    whoever signs in next in this tab sees nothing of it."""
    st.session_state.clear()
    if notice:
        st.session_state[NOTICE] = notice


def signed_in_by_proxy() -> bool:
    return USER in st.session_state and TOKEN not in st.session_state and not st.session_state.get(SSO)


def signed_in_by_sso() -> bool:
    return USER in st.session_state and bool(st.session_state.get(SSO))


@st.cache_data(ttl=60, show_spinner=False)
def oidc_config(api_url: str) -> dict:
    """The API's identity-provider sign-in ({"enabled": False} when off or unreachable)."""
    try:
        return ApiClient(api_url, timeout=5).oidc_config()
    except errors.ApiError:
        return {"enabled": False}
