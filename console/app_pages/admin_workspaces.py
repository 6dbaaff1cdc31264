"""All workspaces (admins): everyone's, filtered by owner, template and phase, live; pick one
to see it in full and start, stop or delete it."""

import streamlit as st

from console import display, session, widgets, workspace_view

ANY = ""
SELECTED = "cps1.admin-selected-workspace"

config = session.settings()
client = session.client()
st.title("All workspaces")

users = widgets.load("list the users", client.users)
templates = widgets.load("list the templates", client.templates)
owner_col, template_col, phase_col = st.columns(3)
owner = owner_col.selectbox(
    "Owner", [ANY, *(u["name"] for u in users)], key="all.owner", format_func=lambda v: v or "anyone"
)
template = template_col.selectbox(
    "Template", [ANY, *(t["name"] for t in templates)], key="all.template", format_func=lambda v: v or "any"
)
phase = phase_col.selectbox("Phase", [ANY, *display.PHASES], key="all.phase", format_func=lambda v: v or "any")


def matching() -> list[dict]:
    return client.workspaces(owner=owner, template=template, phase=phase)


@st.fragment(run_every=config.refresh_seconds)
def live_table(shown: tuple[str, ...]) -> None:
    """The table, refreshed in place; a workspace come or gone redraws the whole page, so the
    picker below lists what exists."""
    items = widgets.attempt("list the workspaces", matching)
    if items is None:
        return
    if tuple(w["name"] for w in items) != shown:
        st.rerun()
    widgets.workspace_table(items, with_owner=True)


items = widgets.load("list the workspaces", matching)
if not items:
    st.info("No workspace matches these filters.", icon=":material/info:")
    widgets.halt()
live_table(tuple(w["name"] for w in items))
labels = {w["name"]: f"{w['name']} ({w['owner']})" for w in items}
if st.session_state.get(SELECTED) not in labels:
    st.session_state[SELECTED] = items[0]["name"]
st.selectbox("Workspace", list(labels), key=SELECTED, format_func=labels.__getitem__)
st.divider()
workspace_view.details(st.session_state[SELECTED], refresh_seconds=config.refresh_seconds)
