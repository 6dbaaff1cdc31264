"""Editing a template as a form or as YAML, without losing what the form does not show."""

import pytest
import yaml

from console import template_edit
from tests.conftest import ROOT, load

PYTHON = load(ROOT / "examples" / "templates" / "python.yaml")


def test_form_values_of_a_spec() -> None:
    values = template_edit.form_values(PYTHON["spec"])
    assert values == {
        "displayName": "Python 3.13",
        "description": "Python 3.13 with pip and venv (Debian's).",
        "image": "cps1/workspace-python:0.1.0",
        "requestsCpu": "500m",
        "requestsMemory": "1Gi",
        "limitsCpu": "4",
        "limitsMemory": "8Gi",
        "storageSize": "10Gi",
        "idleTimeoutSeconds": 3600,
    }
    assert template_edit.form_values({})["image"] == "" and template_edit.form_values({})["idleTimeoutSeconds"] is None


def test_applying_the_form_keeps_every_other_field_and_the_original() -> None:
    spec = PYTHON["spec"]
    values = {**template_edit.form_values(spec), "image": "cps1/py:2", "limitsCpu": "8", "idleTimeoutSeconds": 60}
    out = template_edit.apply_form(spec, values)
    assert out["image"] == "cps1/py:2" and out["resources"]["limits"] == {"cpu": "8", "memory": "8Gi"}
    assert out["idleTimeoutSeconds"] == 60
    assert out["parameters"] == spec["parameters"] and out["ports"] == spec["ports"] and out["env"] == spec["env"]
    assert spec["image"] == "cps1/workspace-python:0.1.0"  # not changed in place


def test_emptied_fields_are_removed_with_the_objects_they_leave_empty() -> None:
    spec = {"image": "x", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}, "idleTimeoutSeconds": 5}
    values = {**template_edit.form_values(spec), "requestsCpu": "", "idleTimeoutSeconds": None}
    assert template_edit.apply_form(spec, values) == {"image": "x", "resources": {"limits": {"cpu": "2"}}}
    values["limitsCpu"] = " "
    assert template_edit.apply_form(spec, values) == {"image": "x"}


def test_yaml_round_trip_is_a_manifest() -> None:
    text = template_edit.to_yaml("python", PYTHON["spec"])
    assert yaml.safe_load(text) == {**PYTHON, "metadata": {"name": "python"}}
    assert template_edit.from_yaml(text) == template_edit.Draft("python", PYTHON["spec"])
    assert template_edit.from_yaml(text, "python").spec == PYTHON["spec"]


def test_a_bare_spec_needs_the_name() -> None:
    assert template_edit.from_yaml("image: x\n", "go") == template_edit.Draft("go", {"image": "x"})
    with pytest.raises(ValueError, match="needs the template's name"):
        template_edit.from_yaml("image: x\n")


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("spec: [unclosed", "", "not valid YAML at line 1"),
        ("- a list", "", "expected a WorkspaceTemplate manifest"),
        ("kind: Workspace\nspec: {}\n", "", "expected kind WorkspaceTemplate, got 'Workspace'"),
        ("apiVersion: v1\nkind: WorkspaceTemplate\nspec: {}\n", "", "expected apiVersion cps1.io/v1alpha1"),
        ("kind: WorkspaceTemplate\nspec: 3\n", "", "no spec mapping"),
        ("kind: WorkspaceTemplate\nspec: {}\n", "", "metadata.name is missing"),
        ("kind: WorkspaceTemplate\nmetadata: {name: b}\nspec: {}\n", "a", "cannot be renamed"),
    ],
)
def test_yaml_mistakes_are_said_in_words(text: str, name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        template_edit.from_yaml(text, name)
