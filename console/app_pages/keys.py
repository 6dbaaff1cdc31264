"""SSH keys: the public keys the gateway accepts from you, for every workspace of yours.
Paste an ``authorized_keys`` line to add one; remove by fingerprint."""

import streamlit as st

from console import session, widgets

FORM = "add-key"
KEY = "keys.key"
NAME = "keys.name"

client = session.client()
st.title("SSH keys")
st.write(
    "The SSH gateway lets you into your workspaces with these keys: "
    "`ssh <workspace>@<gateway>`. Each workspace's page shows the exact command."
)


def add() -> None:
    key, name = str(st.session_state.get(KEY) or "").strip(), str(st.session_state.get(NAME) or "").strip()
    if widgets.submit(FORM, lambda: client.add_key(key, name), "Added the key."):
        st.session_state[KEY] = ""
        st.session_state[NAME] = ""


def remove(fingerprint: str) -> None:
    widgets.submit(f"remove:{fingerprint}", lambda: client.remove_key(fingerprint), f"Removed key {fingerprint}.")


problems = widgets.failure(FORM, "add the key")
with st.form(FORM):
    st.text_area(
        "Public key",
        key=KEY,
        placeholder="ssh-ed25519 AAAA… you@laptop",
        help="The contents of ~/.ssh/id_ed25519.pub (or another .pub file): one line.",
    )
    widgets.field_errors(problems, "key")
    st.text_input("Name (optional)", key=NAME, help="Defaults to the key's comment.")
    widgets.field_errors(problems, "name")
    st.form_submit_button("Add key", type="primary", on_click=add)

keys = widgets.load("list your keys", client.keys)
st.subheader("Your keys")
if not keys:
    st.caption("No keys yet.")
for key in keys:
    fingerprint = key["fingerprint"]
    widgets.failure(f"remove:{fingerprint}", f"remove key {fingerprint}")
    text, button = st.columns([5, 1], vertical_alignment="center")
    kind = str(key.get("key", "")).split(" ", 1)[0]
    text.markdown(f"**{key.get('name', '')}** · {kind} · `{fingerprint}` · added {key.get('added', '')}")
    button.button("Remove", key=f"remove:{fingerprint}", on_click=remove, args=(fingerprint,), icon=":material/delete:")
