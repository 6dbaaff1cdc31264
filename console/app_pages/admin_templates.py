"""Templates (admins): what exists and how many workspaces use each; create or edit one as a
form or as YAML. Every save is first checked by the API server (``POST /templates/validate``:
the CRD's schema and rules, nothing saved), so a bad template never reaches the cluster."""

import pandas as pd
import streamlit as st

from console import errors, session, template_edit, widgets

NEW = ""
SELECTED = "tpl.selected"
MODE = "tpl.mode"
CONFIRM_DELETE = "cps1.confirm-delete-template"
# A new template starts from the idle timeout most teams want; everything else is the admin's.
STARTER_SPEC = {"idleTimeoutSeconds": 3600}

client = session.client()
st.title("Templates")


def key(selected: str, field: str) -> str:
    return f"tpl:{selected or '+new'}:{field}"


def draft_from_form(selected: str, spec: dict) -> template_edit.Draft:
    values = {field: st.session_state.get(key(selected, field)) for field, *_ in template_edit.FORM_FIELDS}
    values[template_edit.IDLE_KEY] = st.session_state.get(key(selected, template_edit.IDLE_KEY))
    name = selected or str(st.session_state.get(key(selected, "name")) or "").strip()
    return template_edit.Draft(name, template_edit.apply_form(spec, values))


def draft(selected: str, spec: dict) -> template_edit.Draft:
    """What the admin wrote, in the mode they are in; ValueError for unreadable YAML."""
    if st.session_state.get(MODE) == "YAML":
        return template_edit.from_yaml(str(st.session_state.get(key(selected, "yaml")) or ""), selected)
    return draft_from_form(selected, spec)


def check(selected: str, spec: dict, save: bool) -> None:
    """on_click of Validate and Save: the API server judges the draft; Save stores it after."""
    form = key(selected, "form")
    try:
        wanted = draft(selected, spec)
    except ValueError as err:
        st.session_state[widgets.FAILED + form] = errors.NotSent(str(err))
        return

    def run() -> None:
        client.validate_template(wanted.name, wanted.spec)
        if save and selected:
            client.replace_template(wanted.name, wanted.spec)
        elif save:
            client.create_template(wanted.name, wanted.spec)

    done = f"Saved template {wanted.name}." if save else f"Template {wanted.name} is valid."
    if widgets.submit(form, run, done) and save and not selected:
        st.session_state[SELECTED] = wanted.name


def delete(name: str) -> None:
    st.session_state.pop(CONFIRM_DELETE, None)
    if widgets.submit(key(name, "form"), lambda: client.delete_template(name), f"Deleted template {name}."):
        st.session_state[SELECTED] = NEW


templates = widgets.load("list the templates", client.templates)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Name": t["name"],
                "Display name": t.get("displayName", ""),
                "Image": t.get("image", ""),
                "Parameters": len(t.get("parameters") or []),
                "Workspaces": t.get("usage", 0),
            }
            for t in templates
        ],
        columns=["Name", "Display name", "Image", "Parameters", "Workspaces"],
    ),
    hide_index=True,
    width="stretch",
)

by_name = {t["name"]: t for t in templates}
if st.session_state.get(SELECTED) not in (NEW, *by_name):
    st.session_state[SELECTED] = NEW
selected = st.selectbox("Edit", [NEW, *by_name], key=SELECTED, format_func=lambda n: n or "+ New template")
spec = by_name[selected]["spec"] if selected else STARTER_SPEC
st.radio("Edit as", ["Form", "YAML"], key=MODE, horizontal=True)
problems = widgets.failure(key(selected, "form"), f"save template {selected or 'the new template'}")

with st.form(key(selected, "form")):
    if st.session_state[MODE] == "YAML":
        if key(selected, "yaml") not in st.session_state:
            st.session_state[key(selected, "yaml")] = template_edit.to_yaml(selected or "my-template", spec)
        st.text_area("Manifest", key=key(selected, "yaml"), height=480)
    else:
        if not selected:
            st.text_input("Name", key=key(selected, "name"), help="Lower-case letters, digits and '-'.")
            widgets.field_errors(problems, "name")
        for field, value in template_edit.form_values(spec).items():
            k = key(selected, field)
            if k not in st.session_state:
                st.session_state[k] = value
        for field, path, label, help_text in template_edit.FORM_FIELDS:
            st.text_input(label, key=key(selected, field), help=help_text or None)
            widgets.field_errors(problems, "spec." + ".".join(path))
        st.number_input(
            "Idle timeout (seconds)",
            key=key(selected, template_edit.IDLE_KEY),
            min_value=0,
            step=60,
            help="Stop a workspace after this long without activity; 0 never stops it. Empty: the default.",
        )
        st.caption("Ports, env, git and parameters: edit them as YAML. The form keeps them as they are.")
    validate_col, save_col = st.columns(2)
    validate_col.form_submit_button("Validate", on_click=check, args=(selected, spec, False))
    save_col.form_submit_button("Save", type="primary", on_click=check, args=(selected, spec, True))

if selected:
    usage = by_name[selected].get("usage", 0)
    if st.button(f"Delete template {selected}…", icon=":material/delete:"):
        st.session_state[CONFIRM_DELETE] = selected
    if st.session_state.get(CONFIRM_DELETE) == selected:
        st.warning(
            f"Delete template **{selected}**? "
            + (
                f"{usage} workspace(s) use it: they will report Failed and keep their data."
                if usage
                else "No workspace uses it."
            ),
            icon=":material/warning:",
        )
        st.button(f"Yes, delete {selected}", type="primary", on_click=delete, args=(selected,))
