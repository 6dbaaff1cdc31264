"""The create form generated from a template's typed parameters, and its values going back."""

from typing import Any

import pytest

from console import forms
from tests.conftest import python_example

PYTHON = python_example()["spec"]["parameters"]
SPECS: list[dict[str, Any]] = [
    {"name": "cores", "type": "int", "min": 1, "max": "8", "default": 2, "description": "Cores."},
    {"name": "debug", "type": "bool", "default": True},
    {"name": "shell", "type": "enum", "choices": ["bash", "zsh"], "mutable": False},
    {"name": "branch", "type": "string", "pattern": "^[a-z]+$", "default": "main"},
    {"name": "token", "type": "string"},
    {"name": "disk", "type": "quantity", "min": "1Gi", "default": "10Gi"},
    {"name": "future", "type": "colour", "default": "red"},
]


def test_one_field_per_parameter_in_order_with_labels_and_kinds() -> None:
    fields = forms.fields(PYTHON)
    assert [(f.name, f.label, f.kind) for f in fields] == [
        ("cpu", "CPU", "quantity"),
        ("memory", "Memory", "quantity"),
        ("pythonVersion", "Python version", "enum"),
    ]
    assert fields[2].choices == ("3.11", "3.12") and fields[2].mutable is False and fields[0].mutable is True


def test_an_unknown_type_is_drawn_as_text_so_newer_templates_still_get_a_form() -> None:
    assert forms.fields(SPECS)[-1].kind == "string"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            PYTHON[0],
            "CPU cores reserved for the workspace. Between 250m and 4. "
            "A quantity such as 500m, 2 or 4Gi. Default: 500m.",
        ),
        (
            PYTHON[2],
            "Interpreter made default in the shell. Default: 3.11. Cannot be changed after the workspace is created.",
        ),
        (SPECS[1], "Default: true."),
        (SPECS[3], "Must match `^[a-z]+$`. Default: main."),
        (SPECS[4], "Required: the template gives no default."),
        (SPECS[5], "At least 1Gi. A quantity such as 500m, 2 or 4Gi. Default: 10Gi."),
        ({"name": "n", "type": "int", "max": 3, "default": 1}, "At most 3. Default: 1."),
    ],
)
def test_help_text_says_the_rules_before_typing(spec: dict, expected: str) -> None:
    assert forms.help_text(spec) == expected


def test_initial_values_are_defaults_in_the_widgets_types() -> None:
    by_name = {f.name: f for f in forms.fields(SPECS)}
    assert forms.initial(by_name["cores"]) == 2
    assert forms.initial(by_name["debug"]) is True
    assert forms.initial(by_name["shell"]) is None  # no default: the user must choose
    assert forms.initial(by_name["token"]) == ""
    assert forms.initial(by_name["disk"]) == "10Gi"


def test_initial_values_when_changing_are_the_workspaces_own() -> None:
    by_name = {f.name: f for f in forms.fields(SPECS)}
    current = {"cores": 4, "shell": "zsh", "disk": "20Gi", "debug": False}
    names = ("cores", "shell", "disk", "debug")
    assert [forms.initial(by_name[n], current) for n in names] == [4, "zsh", "20Gi", False]
    assert forms.initial(by_name["shell"], {"shell": "fish"}) is None  # no longer a choice


def test_bounds_for_the_number_widget() -> None:
    assert [forms.int_bound(v) for v in (1, "8", None, "4Gi")] == [1, 8, None, None]


def test_collect_sends_every_value_and_leaves_out_required_ones_left_empty() -> None:
    fields = forms.fields(SPECS)
    raw = {"cores": 3, "debug": False, "shell": None, "branch": " dev ", "token": "", "disk": "12Gi", "future": "blue"}
    assert forms.collect(fields, raw) == {
        "cores": 3,
        "debug": False,
        "branch": "dev",
        "disk": "12Gi",
        "future": "blue",
    }


def test_collect_keeps_an_empty_string_the_user_chose_over_a_default() -> None:
    fields = forms.fields([{"name": "note", "type": "string", "default": "hi"}])
    assert forms.collect(fields, {"note": ""}) == {"note": ""}


def test_collect_when_changing_never_changes_an_immutable_parameter() -> None:
    fields = forms.fields(SPECS)
    raw = {"cores": 4, "debug": True, "shell": "bash", "branch": "main", "token": "t", "disk": "10Gi"}
    assert forms.collect(fields, raw, current={"shell": "zsh"})["shell"] == "zsh"
    # Never set: sending the default would count as a change, so it stays out.
    assert "shell" not in forms.collect(fields, raw, current={})


def test_parameter_rows_mark_defaults_and_what_can_change() -> None:
    assert forms.parameter_rows(PYTHON, {"cpu": "2", "gone": 1}) == [
        {"Parameter": "CPU", "Value": "2", "Changeable": "yes"},
        {"Parameter": "Memory", "Value": "2Gi (default)", "Changeable": "yes"},
        {"Parameter": "Python version", "Value": "3.11 (default)", "Changeable": "no"},
        {"Parameter": "gone", "Value": "1", "Changeable": "not in the template"},
    ]
    assert forms.parameter_rows([SPECS[4]], {}) == [{"Parameter": "token", "Value": "", "Changeable": "yes"}]
