"""`cps1 render` on the shipped examples and on bad input."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cps1 import cli
from tests.conftest import ROOT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["render", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_examples_render_to_valid_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(ROOT / "examples"))
    assert code == 0, err
    docs = list(yaml.safe_load_all(out))
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"} == {
        "ws-alice-api",
        "ws-bob-web",
        "ws-carol-svc",
    }
    assert len(docs) == 30
    for doc in docs:
        kubernetes_validate.validate(doc, "1.36", strict=True)
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert all(set(s["data"].values()) == {""} for s in secrets)  # values are never printed
    assert "&id" not in out and "*id" not in out  # no YAML aliases


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_schema_violation_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(
        tmp_path,
        "ws.yaml",
        "apiVersion: cps1.io/v1alpha1\nkind: Workspace\nmetadata: {name: a}\nspec: {owner: Alice!, template: python}\n",
    )
    code, out, err = run(capsys, str(bad))
    assert code == 2
    assert f"{bad}: Workspace field spec.owner" in err
    assert out == ""


def test_broken_yaml_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "broken.yaml", "kind: [unclosed\n")
    code, _, err = run(capsys, str(bad))
    assert code == 2 and "not valid YAML" in err


def test_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "/nonexistent/dir")
    assert code == 2 and "no such file or directory" in err


def test_failed_workspace_is_reported_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = write(
        tmp_path,
        "ws.yaml",
        "apiVersion: cps1.io/v1alpha1\nkind: Workspace\nmetadata: {name: lost}\n"
        "spec: {owner: alice, template: nowhere}\n",
    )
    code, out, err = run(capsys, str(ws))
    assert code == 1
    assert "Workspace lost: workspace template 'nowhere' does not exist" in err
    assert out.strip() == ""
