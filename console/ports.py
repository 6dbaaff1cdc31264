"""Preview ports in the console: a Workspace's exposed web apps with their share levels and
URLs, a form to expose, re-share or remove one, and sign-in links. A link is made on request
(each is a grant the API audits), never on every refresh."""

import functools

import streamlit as st

from apiclient.client import ApiClient
from common import previews
from console import session, widgets

NEXT = "next"


def section(client: ApiClient, workspace: dict) -> None:
    name = workspace["name"]
    st.markdown("**Ports** — web apps in this workspace, each at its own URL behind CPS1's sign-in")
    served = {p["port"]: p for p in workspace.get("previews") or []}
    for port in workspace.get("ports") or []:
        number = port["port"]
        shown = served.get(number)
        label_cell, share_cell, link = st.columns([2, 2, 3], vertical_alignment="center")
        label_cell.markdown(f"`{number}` {port.get('name', '')}")
        share_cell.caption(shown["share"] if shown else f"{port.get('share', 'owner')} (not served yet)")
        key = f"cps1.port-link:{name}:{number}"
        if shown and link.button("Get link", key=f"link:{name}:{number}", icon=":material/link:"):
            grant = functools.partial(client.preview_grant, shown["url"])
            st.session_state[key] = widgets.attempt(f"open port {number}", grant)
        if st.session_state.get(key):
            link.link_button(f"Open {number}", st.session_state[key], icon=":material/open_in_new:")
    declared = workspace.get("ports") or []
    with st.form(f"ports:{name}", clear_on_submit=True):
        number_col, share_col, label_col = st.columns(3)
        chosen = number_col.number_input(
            "Port", min_value=1024, max_value=65535, value=3000, step=1, key=f"ports:{name}:port"
        )
        share = share_col.selectbox(
            "Shared with", previews.SHARE_LEVELS, help="owner · anyone signed in · anyone", key=f"ports:{name}:share"
        )
        label = label_col.text_input("Name", placeholder="web", key=f"ports:{name}:name")
        save, remove = st.columns(2)
        if save.form_submit_button("Expose or re-share", type="primary"):
            _save(client, workspace, previews.with_port(declared, int(chosen), share=share, name=label.strip()))
        if remove.form_submit_button("Remove"):
            _save(client, workspace, previews.with_port(declared, int(chosen), remove=True))


def _save(client: ApiClient, workspace: dict, ports: list[dict]) -> None:
    if widgets.attempt("save the ports", lambda: client.update_workspace(workspace["name"], {"ports": ports})):
        widgets.flash("Ports saved; the URLs follow within seconds.")
        st.rerun()


def continue_after_sign_in() -> None:
    """Back to the Workspace URL that sent a signed-out browser here (`?next=`), signed in."""
    target = st.query_params.get(NEXT)
    if not target:
        return
    link = widgets.attempt("open the address you came from", lambda: session.client().preview_grant(target))
    if link:
        st.info(f"You were on its way to {target}.", icon=":material/login:")
        st.link_button("Continue", link, type="primary", icon=":material/open_in_new:")
