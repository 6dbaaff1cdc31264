"""The CPS1 web console: `streamlit run console/streamlit_app.py` (or `python -m console`).

Its only backend is the Workspace API at CPS1_CONSOLE_API_URL. This script is the router: it
draws the sidebar identity and offers the pages the signed-in user may use (the admin pages only
to admins; the API enforces that too). Streamlit serves its own health check at
/_stcore/health, which probes use; the console needs no server of its own.
"""

import contextlib

import streamlit as st

from common import accounts
from console import ports, session, widgets

st.set_page_config(page_title="CPS1", page_icon=":material/deployed_code:", layout="wide")

user = session.current_user()
if user is None:
    pages: list[st.Page] | dict[str, list[st.Page]] = [
        st.Page("app_pages/signin.py", title="Sign in", icon=":material/login:", default=True)
    ]
else:
    pages = {
        "Workspaces": [
            st.Page("app_pages/workspaces.py", title="My workspaces", icon=":material/computer:", default=True),
            st.Page("app_pages/create.py", title="New workspace", icon=":material/add_circle:"),
            st.Page("app_pages/keys.py", title="SSH keys", icon=":material/key:"),
            st.Page("app_pages/secrets.py", title="Secrets", icon=":material/lock:"),
        ]
    }
    if user.get("admin"):
        pages["Admin"] = [
            st.Page("app_pages/admin_templates.py", title="Templates", icon=":material/category:"),
            st.Page("app_pages/admin_workspaces.py", title="All workspaces", icon=":material/dns:"),
            st.Page("app_pages/admin_users.py", title="Users", icon=":material/group:"),
        ]
    with st.sidebar:
        st.markdown(f"Signed in as **{user['name']}**" + (" · admin" if user.get("admin") else ""))
        if session.signed_in_by_proxy():
            st.caption("by your organisation's sign-in")
        elif session.signed_in_by_sso():
            sso = session.oidc_config(session.settings().api_url)
            st.caption(f"through {sso.get('provider', 'your identity provider')}")
            proof = accounts.sign_out_proof(session.sso_token())  # the API then signs out without asking
            widgets.same_tab_link("Sign out", f"{sso.get('logoutUrl', '')}?proof={proof}")
        elif st.button("Sign out", icon=":material/logout:"):
            session.sign_out()
            st.rerun()
        st.caption(f"API: {session.settings().api_url}")

navigation = st.navigation(pages)
widgets.show_flash()
if user is not None:
    ports.continue_after_sign_in()
with contextlib.suppress(widgets.PageHalted):  # see widgets.halt: the run must return
    navigation.run()
