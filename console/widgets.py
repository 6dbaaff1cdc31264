"""Small Streamlit pieces every page uses: showing an API failure, messages that survive a
rerun, the phase badge, a colour-coded Workspace table, one widget per template parameter, and
a link that leaves for another site in the same tab (sign-in and sign-out)."""

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from console import display, errors, forms, session

T = TypeVar("T")
FLASH = "cps1.flash"
FAILED = "cps1.failed:"


def show_error(err: errors.ApiError, doing: str) -> None:
    """An API failure in words. A refused credential signs the user out: every later call
    would fail the same way."""
    if isinstance(err, errors.Unauthorized):
        session.sign_out(f"Signed out: {errors.describe(err)}")
        st.rerun()
    st.error(f"Could not {doing}: {errors.describe(err)}", icon=":material/error:")


def attempt(doing: str, call: Callable[[], T]) -> T | None:
    """`call()`, or None after showing why it failed."""
    try:
        return call()
    except errors.ApiError as err:
        show_error(err, doing)
        return None


def load(doing: str, call: Callable[[], T]) -> T:
    """`call()`; on failure show why and stop drawing the page (nothing below can work)."""
    result = attempt(doing, call)
    if result is None:
        halt()
    return result


class PageHalted(Exception):
    """Raised by `halt`; the router (streamlit_app.py) catches it."""


def halt() -> NoReturn:
    """Stop drawing the page, in place of `st.stop()`, from a page's body (not a fragment).

    Streamlit forgets the fragments a run did not draw only when the script returns, and
    `st.stop()` skips that. A refresh timer the browser set for a fragment of the page before
    (the Workspace list that just became empty) then reruns it into the page that replaced
    it, and the browser blanks the page ("Bad delta path index"). The router catches this
    exception, so the run returns and the stale fragments are dropped."""
    raise PageHalted


def flash(message: str) -> None:
    """A success message shown once, on the next run (after `st.rerun()`)."""
    st.session_state[FLASH] = message


def show_flash() -> None:
    """As a toast: it floats over the page, so nothing below it moves."""
    message = st.session_state.pop(FLASH, None)
    if message:
        st.toast(message, icon=":material/check_circle:")


def submit(form: str, call: Callable[[], object], done: str) -> bool:
    """An ``on_click`` callback of a form's submit button: run `call` before the page is drawn
    again, so a failure can be shown next to the fields it names while every widget keeps
    what the user typed. A refused credential signs the user out. Whether it worked."""
    try:
        call()
    except errors.Unauthorized as err:
        session.sign_out(f"Signed out: {errors.describe(err)}")
        return False
    except errors.ApiError as err:
        st.session_state[FAILED + form] = err
        return False
    st.session_state.pop(FAILED + form, None)
    flash(done)
    return True


def failure(form: str, doing: str) -> dict[str, str]:
    """Show why the last submit of `form` failed, if it did; the fields the API named."""
    err: errors.ApiError | None = st.session_state.get(FAILED + form)
    if err is None:
        return {}
    st.error(f"Could not {doing}: {errors.describe(err)}", icon=":material/error:")
    return err.fields


def phase_badge(phase: str) -> None:
    st.badge(phase or "Unknown", color=display.phase_color(phase))


def workspace_table(items: list[dict], *, with_owner: bool = False) -> None:
    """Workspaces as a table with the phase cell coloured and the IDE as a link."""
    now = datetime.now(UTC)
    frame = pd.DataFrame([display.workspace_row(w, now, with_owner=with_owner) for w in items])
    styled = frame.style.map(display.phase_cell_style, subset=["Phase"])
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_config={"IDE": st.column_config.LinkColumn("IDE", display_text="open")},
    )


def parameter_input(field: forms.Field, key: str, value: Any, *, disabled: bool = False) -> Any:
    """One widget for one template parameter, holding `value` at first."""
    label = field.label + (" *" if field.required else "")
    common: dict[str, Any] = {"key": key, "help": field.help, "disabled": disabled}
    if key not in st.session_state:
        st.session_state[key] = value
    if field.kind == "bool":
        return st.checkbox(label, **common)
    if field.kind == "int":
        return st.number_input(
            label,
            min_value=forms.int_bound(field.minimum),
            max_value=forms.int_bound(field.maximum),
            step=1,
            **common,
        )
    if field.kind == "enum":
        return st.selectbox(label, field.choices, placeholder="Choose one", **common)
    return st.text_input(label, **common)


def field_errors(problems: dict[str, str], *names: str) -> None:
    """The API's complaints about these fields, right under them."""
    for name in names:
        if name in problems:
            st.error(problems[name], icon=":material/warning:")


def same_tab_link(label: str, url: str) -> None:
    """A button-like link opened in this tab (st.link_button always opens a new one), for the
    identity provider's pages, which come back to the console."""
    st.markdown(
        f'<a href="{html.escape(url, quote=True)}" target="_self" style="display:inline-block;padding:0.4rem 0.9rem;'
        f'border-radius:0.5rem;background:#ff4b4b;color:white;text-decoration:none">{html.escape(label)}</a>',
        unsafe_allow_html=True,
    )
