"""Users (admins): who can sign in, adding a user or an admin, and issuing a user's API token
to hand over. The API shows a token once; so does this page, and then forgets it."""

import pandas as pd
import streamlit as st

from console import session, widgets

ADD = "add-user"
ISSUE = "issue-token"
ISSUED = "cps1.issued-token"

client = session.client()
st.title("Users")


def add() -> None:
    name = str(st.session_state.get("users.name") or "").strip()
    admin = bool(st.session_state.get("users.admin"))
    if widgets.submit(ADD, lambda: client.create_user(name, admin=admin), f"Saved user {name}."):
        st.session_state["users.name"] = ""


def issue() -> None:
    user = str(st.session_state.get("users.token-user") or "")
    name = str(st.session_state.get("users.token-name") or "").strip()
    days = st.session_state.get("users.token-days")
    issued: dict = {}

    def call() -> None:
        issued.update(client.issue_token(user, name, int(days) if days else None))

    if widgets.submit(ISSUE, call, f"Issued token {name!r} for {user}."):
        st.session_state[ISSUED] = (user, issued["token"])


users = widgets.load("list the users", client.users)
st.dataframe(
    pd.DataFrame(
        [{"Name": u["name"], "Admin": "yes" if u.get("admin") else "", "SSH keys": u.get("keys", 0)} for u in users],
        columns=["Name", "Admin", "SSH keys"],
    ),
    hide_index=True,
    width="stretch",
)

add_col, issue_col = st.columns(2)
with add_col:
    st.subheader("Add a user")
    problems = widgets.failure(ADD, "save the user")
    with st.form(ADD):
        st.text_input("Name", key="users.name", help="Lower-case letters, digits and '-': it is also the SSH user.")
        widgets.field_errors(problems, "name")
        st.checkbox("Admin", key="users.admin", help="Admins manage templates, users and every workspace.")
        st.form_submit_button("Save user", on_click=add)
with issue_col:
    st.subheader("Issue an API token")
    problems = widgets.failure(ISSUE, "issue the token")
    with st.form(ISSUE):
        st.selectbox("For", [u["name"] for u in users], key="users.token-user")
        st.text_input("Token name", key="users.token-name", help="Says what it is for, e.g. laptop.")
        widgets.field_errors(problems, "name")
        st.number_input("Expires after (days)", key="users.token-days", min_value=1, max_value=365, value=None)
        st.form_submit_button("Issue token", on_click=issue)
    issued = st.session_state.pop(ISSUED, None)
    if issued:
        st.warning(f"Hand this token to **{issued[0]}** now: it is not shown again.", icon=":material/key:")
        st.code(issued[1], language="text")
