"""One Workspace in full, with what can be done to it: start, stop, delete (after a
confirmation naming it), open the IDE, copy the SSH command and an ``~/.ssh/config`` entry,
change its parameters; and what explains its state: conditions, recent events, parameters and a
pending template update. Shared by "My workspaces" and the admin's "All workspaces"."""

from collections.abc import Callable

import pandas as pd
import streamlit as st

from apiclient.client import ApiClient
from common import crd
from console import display, errors, forms, ports, session, ssh, widgets

EVENTS_SHOWN = 20


def details(name: str, *, refresh_seconds: float) -> None:
    """The details of Workspace `name`, refreshed every `refresh_seconds` without reloading the
    page (a fragment: only this part reruns)."""

    @st.fragment(run_every=refresh_seconds)
    def live() -> None:
        client = session.client()
        try:
            workspace = client.workspace(name)
        except errors.ApiError as err:
            if err.status == 404:
                st.rerun()  # deleted meanwhile: redraw the page without it
            widgets.show_error(err, f"load workspace {name}")
            return
        widgets.show_flash()
        _summary(workspace)
        _actions(client, workspace)
        _access(workspace)
        ports.section(client, workspace)
        _ide_password(client, workspace)
        _explain(client, workspace)

    live()


def _summary(workspace: dict) -> None:
    name, phase = workspace["name"], workspace.get("phase", "")
    title, badge = st.columns([4, 1], vertical_alignment="center")
    title.subheader(name)
    with badge:
        widgets.phase_badge(phase)
    st.caption(
        f"Template **{workspace.get('template', '')}** · owner **{workspace.get('owner', '')}**"
        + (" · being deleted" if workspace.get("deleting") else "")
    )
    if workspace.get("message") and phase in (crd.PHASE_FAILED, crd.PHASE_PENDING, crd.PHASE_STARTING):
        (st.error if phase == crd.PHASE_FAILED else st.info)(workspace["message"])
    if workspace.get("updatePending"):
        st.info(
            "The template changed since this workspace started. The new version applies at its next "
            "start: stop and start it when convenient.",
            icon=":material/update:",
        )


def _actions(client: ApiClient, workspace: dict) -> None:
    name = workspace["name"]
    deleting = bool(workspace.get("deleting"))
    start, stop, ide, delete = st.columns(4)
    startable = display.can_start(workspace)
    if start.button("Start", key=f"start:{name}", disabled=not startable, icon=":material/play_arrow:"):
        _do(f"start {name}", lambda: client.start(name), f"Starting {name}.")
    if stop.button("Stop", key=f"stop:{name}", disabled=not display.can_stop(workspace), icon=":material/stop:"):
        _do(f"stop {name}", lambda: client.stop(name), f"Stopping {name}; its home volume is kept.")
    ide.link_button(
        "Open IDE",
        workspace.get("ideURL") or "about:blank",
        disabled=not workspace.get("ideURL") or workspace.get("phase") != crd.PHASE_RUNNING,
        icon=":material/open_in_new:",
    )
    confirm_key = f"cps1.confirm-delete:{name}"
    if delete.button("Delete", key=f"delete:{name}", disabled=deleting, icon=":material/delete:"):
        st.session_state[confirm_key] = True
    if st.session_state.get(confirm_key):
        keeps = (workspace.get("storage") or {}).get("onDelete") == "Retain"
        st.warning(
            f"Delete workspace **{name}**? "
            + ("Its home volume is kept (it asked to retain it)." if keeps else "Its home volume is deleted too."),
            icon=":material/warning:",
        )
        yes, no = st.columns(2)
        if yes.button(f"Yes, delete {name}", key=f"confirm-delete:{name}", type="primary"):
            del st.session_state[confirm_key]
            _do(f"delete {name}", lambda: client.delete_workspace(name), f"Deleting {name}.")
        if no.button("Cancel", key=f"cancel-delete:{name}"):
            del st.session_state[confirm_key]
            st.rerun()


def _do(doing: str, call: Callable[[], object], done: str) -> None:
    """Run an action; on success say so after a rerun of the whole page (its list changed)."""
    try:
        call()
    except errors.ApiError as err:
        widgets.show_error(err, doing)
        return
    widgets.flash(done)
    st.rerun()


def _access(workspace: dict) -> None:
    name, command = workspace["name"], workspace.get("sshCommand", "")
    if not command:
        st.caption("No SSH address yet.")
        return
    st.markdown("**SSH** (register your key on the *SSH keys* page first)")
    st.code(command, language="bash")
    snippet = ssh.config_snippet(name, command)
    if snippet:
        st.markdown(f"**~/.ssh/config** — then `ssh {ssh.host_alias(name)}`, or pick it in VS Code Remote-SSH")
        st.code(snippet, language="text")


def _ide_password(client: ApiClient, workspace: dict) -> None:
    """code-server asks for a password when the IDE opens: reveal it on request, fetched once
    per session (each reading is audited by the API), not on every refresh."""
    name = workspace["name"]
    if not workspace.get("ideURL"):
        return
    key = f"cps1.ide-password:{name}"
    if not st.toggle("Show IDE password", key=f"show-ide-password:{name}"):
        return
    if key not in st.session_state:
        password = widgets.attempt(f"load the IDE password of {name}", lambda: client.ide_password(name))
        if password is None:
            return
        st.session_state[key] = password
    st.code(st.session_state[key], language="text")


def _explain(client: ApiClient, workspace: dict) -> None:
    name = workspace["name"]
    conditions, events, parameters = st.tabs(["Conditions", "Events", "Parameters"])
    with conditions:
        rows = [
            {
                "Type": c.get("type", ""),
                "Status": c.get("status", ""),
                "Reason": c.get("reason", ""),
                "Message": c.get("message", ""),
                "Since": c.get("lastTransitionTime", ""),
            }
            for c in workspace.get("conditions") or []
        ]
        _table(rows, "No conditions reported yet.")
    with events:
        items = widgets.attempt(f"load the events of {name}", lambda: client.events(name)) or []
        recent = sorted(items, key=lambda e: e.get("time") or "", reverse=True)[:EVENTS_SHOWN]
        rows = [
            {
                "Time": e.get("time") or "",
                "Type": e.get("type", ""),
                "Reason": e.get("reason", ""),
                "Object": e.get("object", ""),
                "Message": e.get("message", ""),
                "Count": e.get("count", 1),
            }
            for e in recent
        ]
        _table(rows, "No recent events.")
    with parameters:
        _parameters(client, workspace)


def _parameters(client: ApiClient, workspace: dict) -> None:
    name, values = workspace["name"], workspace.get("parameters") or {}
    template = widgets.attempt(
        f"load template {workspace.get('template')}", lambda: client.template(workspace.get("template", ""))
    )
    specs = (template or {}).get("parameters") or []
    _table(forms.parameter_rows(specs, values), "This workspace has no parameters.")
    if not specs:
        return
    with st.expander("Change parameters"):
        form = f"params:{name}"
        problems = widgets.failure(form, f"change the parameters of {name}")
        form_fields = forms.fields(specs)
        keys = {field.name: f"param:{name}:{field.name}" for field in form_fields}
        with st.form(form):
            for field in form_fields:
                widgets.parameter_input(
                    field, keys[field.name], forms.initial(field, values), disabled=not field.mutable
                )
                widgets.field_errors(problems, f"parameters.{field.name}")
            st.form_submit_button(
                "Save parameters", on_click=_save_parameters, args=(client, workspace, form_fields, keys)
            )


def _save_parameters(client: ApiClient, workspace: dict, form_fields: list[forms.Field], keys: dict[str, str]) -> None:
    name = workspace["name"]
    raw = {field: st.session_state.get(key) for field, key in keys.items()}
    values = forms.collect(form_fields, raw, current=workspace.get("parameters") or {})
    widgets.submit(
        f"params:{name}",
        lambda: client.update_workspace(name, {"parameters": values}),
        f"Saved the parameters of {name}.",
    )


def _table(rows: list[dict], empty: str) -> None:
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption(empty)
