"""My workspaces: a live table (refreshed in place, without reloading the page) and the
details and actions of the one picked."""

import streamlit as st

from console import session, widgets, workspace_view

SELECTED = "cps1.selected-workspace"

config = session.settings()
client = session.client()
st.title("My workspaces")


@st.fragment(run_every=config.refresh_seconds)
def live_table(shown: tuple[str, ...]) -> None:
    """The table, refreshed in place; a workspace come or gone redraws the whole page, so the
    picker below lists what exists."""
    items = widgets.attempt("list your workspaces", client.workspaces)
    if items is None:
        return
    if tuple(w["name"] for w in items) != shown:
        st.rerun()
    widgets.workspace_table(items)


items = widgets.load("list your workspaces", client.workspaces)
if not items:
    st.info("You have no workspaces yet.", icon=":material/info:")
    st.page_link("app_pages/create.py", label="Create your first workspace", icon=":material/add_circle:")
    widgets.halt()
live_table(tuple(w["name"] for w in items))
names = [w["name"] for w in items]
if st.session_state.get(SELECTED) not in names:
    st.session_state[SELECTED] = names[0]
st.selectbox("Workspace", names, key=SELECTED)
st.divider()
workspace_view.details(st.session_state[SELECTED], refresh_seconds=config.refresh_seconds)
