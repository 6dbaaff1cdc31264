"""Secrets and profile: your own secrets (write-only: once stored, only their names, kinds and
dates are shown) and the Git identity and dotfiles your workspaces get. A workspace receives
the secrets it names (chosen when it is created, or with `cps1 ws create --secret`)."""

import streamlit as st

from console import session, widgets

FORM = "add-secret"
NAME, KIND, VALUE, HOST, USERNAME = "secrets.name", "secrets.kind", "secrets.value", "secrets.host", "secrets.username"
PROFILE_FORM = "profile"
KINDS = {
    "env": "Environment variable",
    "file": "File in /etc/cps1-user",
    "git-credential": "Git credential (HTTPS token)",
}
PROFILE_FIELDS = {"gitName": "Git name", "gitEmail": "Git email", "dotfiles": "Dotfiles repository"}

client = session.client()
st.title("Secrets")
st.write(
    "Tokens and keys your workspaces need, stored once: a workspace gets those it names, as an "
    "environment variable, a file under `/etc/cps1-user`, or a Git credential. Values are never shown again."
)


def add() -> None:
    state = st.session_state
    kind = str(state.get(KIND) or "env")
    git = kind == "git-credential"

    def store() -> object:
        return client.set_secret(
            str(state.get(NAME) or "").strip(),
            kind,
            str(state.get(VALUE) or ""),
            str(state.get(HOST) or "").strip() if git else "",
            str(state.get(USERNAME) or "").strip() if git else "",
        )

    # The value is wiped from the widget whatever the answer: it is never kept in the page.
    stored = widgets.submit(FORM, store, "Stored the secret.")
    state[VALUE] = ""
    if stored:
        state[NAME] = state[HOST] = state[USERNAME] = ""


def remove(name: str) -> None:
    widgets.submit(f"remove:{name}", lambda: client.remove_secret(name), f"Removed secret {name}.")


def save_profile() -> None:
    profile = {field: str(st.session_state.get(f"profile.{field}") or "").strip() for field in PROFILE_FIELDS}
    widgets.submit(PROFILE_FORM, lambda: client.set_profile(profile), "Saved your profile.")


problems = widgets.failure(FORM, "store the secret")
with st.form(FORM):
    st.text_input("Name", key=NAME, placeholder="NPM_TOKEN", help="The variable or file name: letters, digits, _.")
    widgets.field_errors(problems, "name")
    st.selectbox("Kind", list(KINDS), key=KIND, format_func=KINDS.__getitem__)
    st.text_input("Value", key=VALUE, type="password")
    widgets.field_errors(problems, "value")
    st.text_input("Git host (Git credentials)", key=HOST, placeholder="github.com")
    widgets.field_errors(problems, "host")
    st.text_input("Git user name (optional)", key=USERNAME, placeholder="git")
    st.form_submit_button("Store secret", type="primary", on_click=add)

secrets = widgets.load("list your secrets", client.secrets)
st.subheader("Your secrets")
if not secrets:
    st.caption("No secrets yet.")
for secret in secrets:
    name = secret["name"]
    widgets.failure(f"remove:{name}", f"remove secret {name}")
    text, button = st.columns([5, 1], vertical_alignment="center")
    host = f" · {secret['host']}" if secret.get("host") else ""
    used = secret.get("lastUsed") or "never"
    text.markdown(f"**{name}** · {KINDS[secret['kind']]}{host} · created {secret['created']} · last used {used}")
    button.button("Remove", key=f"remove:{name}", on_click=remove, args=(name,), icon=":material/delete:")

st.subheader("Profile")
profile = widgets.load("read your profile", client.profile)
widgets.failure(PROFILE_FORM, "save your profile")
with st.form(PROFILE_FORM):
    for field, label in PROFILE_FIELDS.items():
        st.text_input(label, key=f"profile.{field}", value=profile.get(field, ""))
    st.caption("The dotfiles repository is cloned at each workspace's first start, instead of the template's.")
    st.form_submit_button("Save profile", on_click=save_profile)
