"""No console page ends a run with `st.stop()`: Streamlit then keeps the fragments the run did
not draw, and a late refresh of one blanks the browser's page (console/widgets.py `halt`)."""

import ast
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[3] / "console"


def st_stop_calls(source: str) -> list[int]:
    """Lines that call `st.stop()`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "stop"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
    ]


def test_the_finder_sees_a_call() -> None:
    assert st_stop_calls("import streamlit as st\nif x:\n    st.stop()\n") == [3]
    assert st_stop_calls("proc.stop()\n# st.stop()\n") == []


def test_no_console_module_calls_st_stop() -> None:
    found = {
        str(path.relative_to(CONSOLE)): lines
        for path in sorted(CONSOLE.rglob("*.py"))
        if (lines := st_stop_calls(path.read_text()))
    }
    assert found == {}, "use widgets.halt() instead"
