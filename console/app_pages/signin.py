"""Sign in through the company's identity provider when the API offers it (the provider's pages,
then back here with an HTTP-only session cookie), or with an API token (an admin issues one;
the CLI's `cps1 login` takes the same), checked with the API and kept in this browser tab's
session only."""

import streamlit as st

from console import errors, session, widgets

TOKEN_INPUT = "signin.token"
FAILED = "signin.failed"


def sign_in() -> None:
    """on_click: check the typed token, then wipe the widget so the token is held only where
    the session keeps credentials."""
    token = str(st.session_state.get(TOKEN_INPUT) or "").strip()
    st.session_state[TOKEN_INPUT] = ""
    st.session_state.pop(FAILED, None)
    if not token:
        st.session_state[FAILED] = "Paste an API token first."
        return
    try:
        session.sign_in(token)
    except errors.ApiError as err:
        st.session_state[FAILED] = errors.describe(err)


st.title("CPS1")
st.write("Ready-to-code workspaces, in your browser or over SSH.")
notice = st.session_state.pop(session.NOTICE, None)
if notice:
    st.warning(notice, icon=":material/info:")
config = session.settings()
if config.proxy_user_header and not session.proxy_user(config):
    st.info(
        f"This console expects your organisation's sign-in to name you in the "
        f"`{config.proxy_user_header}` header, and this request had none. You can sign in with an API token."
    )
sso = session.oidc_config(config.api_url)
if sso.get("enabled"):
    widgets.same_tab_link(f"Sign in with {sso.get('provider', 'SSO')}", str(sso.get("loginUrl", "")))
    st.caption("Or, for automation and admins, with an API token:")
with st.form("signin"):
    st.text_input(
        "API token",
        type="password",
        key=TOKEN_INPUT,
        placeholder="cps1_…",
        help="An admin issues it; the same token works with `cps1 login`. It stays in this tab's session only.",
    )
    st.form_submit_button("Sign in", type="primary", on_click=sign_in)
failed = st.session_state.pop(FAILED, None)
if failed:
    st.error(f"Could not sign in: {failed}", icon=":material/error:")
