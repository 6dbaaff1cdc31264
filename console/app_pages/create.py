"""New workspace: pick a template (what it gives you), fill the form generated from its typed
parameters, and watch the new workspace come up. The API judges every value; what it refuses
is shown next to the field, and the form keeps what was typed."""

from typing import Any

import streamlit as st

from common import crd
from console import display, forms, session, widgets

FORM = "create"
NAME = "create.name"
TEMPLATE = "create.template"
RUNNING = "create.running"
RETAIN = "create.retain"
SECRETS = "create.secrets"
CREATED = "cps1.created"
# The conditions a new Workspace reports on its way to Running, in order.
STEPS = ("TemplateResolved", "StorageReady", "Ready")
# Progress is watched more closely than the tables refresh: a start takes seconds.
PROGRESS_SECONDS = 2

config = session.settings()
client = session.client()
st.title("New workspace")
me = widgets.attempt("read your limits", client.me)
limits_line = display.limits_line((me or {}).get("effectiveLimits") or {})
if limits_line:
    st.caption(limits_line)


def field_key(template: str, parameter: str) -> str:
    return f"create:{template}:{parameter}"


def create(template: dict, form_fields: list[forms.Field]) -> None:
    """on_click of the submit button: ask the API to create it."""
    name = str(st.session_state.get(NAME) or "").strip()
    raw = {f.name: st.session_state.get(field_key(template["name"], f.name)) for f in form_fields}
    body: dict = {
        "name": name,
        "template": template["name"],
        "parameters": forms.collect(form_fields, raw),
        "running": bool(st.session_state.get(RUNNING, True)),
    }
    if st.session_state.get(RETAIN):
        body["storage"] = {"onDelete": "Retain"}
    if st.session_state.get(SECRETS):
        body["secrets"] = list(st.session_state[SECRETS])
    if widgets.submit(FORM, lambda: client.create_workspace(body), f"Created workspace {name}."):
        st.session_state[CREATED] = name
        st.session_state[NAME] = ""


def describe_template(template: dict) -> None:
    if template.get("description"):
        st.write(template["description"])
    resources = template.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    st.markdown(f"Image `{template.get('image') or '—'}`")
    cpu, memory, storage = st.columns(3)
    cpu.metric("CPU", f"{requests.get('cpu', '—')} (up to {limits.get('cpu', '—')})")
    memory.metric("Memory", f"{requests.get('memory', '—')} (up to {limits.get('memory', '—')})")
    storage.metric("Home volume", (template.get("storage") or {}).get("size") or "—")
    idle = template.get("idleTimeoutSeconds")
    if idle:
        st.caption(f"Stops after {display.duration(idle)} without activity; it starts again when you come back.")


@st.fragment(run_every=PROGRESS_SECONDS)
def progress(name: str) -> None:
    """How far the new workspace is, until it runs (or fails, or was created stopped)."""
    workspace = widgets.attempt(f"load workspace {name}", lambda: client.workspace(name))
    if workspace is None:
        return
    phase = workspace.get("phase", "")
    conditions = {c.get("type"): c for c in workspace.get("conditions") or []}
    done = [step for step in STEPS if conditions.get(step, {}).get("status") == "True"]
    st.subheader(f"Workspace {name}")
    widgets.phase_badge(phase)
    if phase == crd.PHASE_RUNNING:
        st.success(f"{name} is running.", icon=":material/rocket_launch:")
        if workspace.get("ideURL"):
            st.link_button("Open IDE", workspace["ideURL"], icon=":material/open_in_new:")
        st.page_link("app_pages/workspaces.py", label="See it in My workspaces", icon=":material/computer:")
    elif phase == crd.PHASE_FAILED:
        st.error(workspace.get("message") or f"{name} failed.", icon=":material/error:")
    elif not workspace.get("running", True):
        st.info(f"{name} was created stopped; start it from My workspaces.", icon=":material/info:")
    else:
        waiting: dict[str, Any] = next((conditions.get(step, {}) for step in STEPS if step not in done), {})
        text = waiting.get("message") or workspace.get("message") or f"{phase or 'Pending'}…"
        st.progress(len(done) / len(STEPS), text=text)


templates = widgets.load("list the templates", client.templates)
if not templates:
    st.info("There are no templates yet: an admin creates them.", icon=":material/info:")
    widgets.halt()
problems = widgets.failure(FORM, "create the workspace")
by_name = {t["name"]: t for t in templates}
if st.session_state.get(TEMPLATE) not in by_name:
    st.session_state[TEMPLATE] = templates[0]["name"]
chosen = st.selectbox(
    "Template",
    list(by_name),
    key=TEMPLATE,
    format_func=lambda n: f"{by_name[n].get('displayName') or n} ({n})" if by_name[n].get("displayName") else n,
)
widgets.field_errors(problems, "template")
template = by_name[chosen]
describe_template(template)
form_fields = forms.fields(template.get("parameters") or [])
with st.form(FORM):
    st.text_input("Name", key=NAME, max_chars=60, help="Lower-case letters, digits and '-'; at most 60 characters.")
    widgets.field_errors(problems, "name")
    for field in form_fields:
        widgets.parameter_input(field, field_key(chosen, field.name), forms.initial(field))
        widgets.field_errors(problems, f"parameters.{field.name}")
    own_secrets = [s["name"] for s in widgets.load("list your secrets", client.secrets)]
    if own_secrets:
        st.multiselect("Secrets it gets", own_secrets, key=SECRETS, help="Stored on the Secrets page.")
    st.checkbox("Start it now", value=True, key=RUNNING)
    st.checkbox("Keep its home volume when the workspace is deleted", key=RETAIN)
    st.form_submit_button("Create workspace", type="primary", on_click=create, args=(template, form_fields))

if st.session_state.get(CREATED):
    st.divider()
    progress(st.session_state[CREATED])
