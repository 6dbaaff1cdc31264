"""Golden tests: every child kind rendered for the example Python and Node templates.

The golden files are reviewed like code. After an intended change, regenerate them with
CPS1_UPDATE_GOLDEN=1 pytest tests/unit/hooks/test_render_golden.py and read the diff: an update
run rewrites every file that differs and then fails, so no run passes on files it wrote itself.
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from hooks import model
from hooks.reconcile import workspace
from hooks.settings import Settings
from tests.unit.hooks import factories

GOLDEN = Path(__file__).with_name("golden")
KINDS = [
    "Namespace",
    "ServiceAccount",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "Secret",
    "PersistentVolumeClaim",
    "Deployment",
    "Service",
    "Ingress",
]
CASES = {
    "python": ("python", {"cpu": "2", "memory": "4Gi", "pythonVersion": "3.12"}),
    "node": ("node", {"branch": "feature/login"}),
}


def rendered(case: str, templates: dict, settings: Settings = factories.SETTINGS) -> dict[str, dict]:
    template_name, params = CASES[case]
    parent = factories.parent(f"{case}-ws", template_name, parameters=params)
    ws, errors = model.resolve(parent, templates[template_name])
    assert errors == []
    assert ws is not None
    return {c["kind"]: c for c in workspace.render_children(ws, settings, {}, 1)}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", KINDS)
def test_child_matches_golden(case: str, kind: str, python_template: dict, node_template: dict) -> None:
    child = rendered(case, {"python": python_template, "node": node_template})[kind]
    assert_golden(child, GOLDEN / f"{case}-{kind}.yaml")


def test_ide_routing_by_host_with_tls_matches_golden(python_template: dict) -> None:
    """What installations use (the chart's `ideDomain`): a host per Workspace, TLS by the
    ingress controller's default certificate."""
    settings = replace(factories.SETTINGS, ide_domain="ide.example.com", ide_tls=True)
    children = rendered("python", {"python": python_template}, settings)
    assert_golden(children["Ingress"], GOLDEN / "python-host-tls-Ingress.yaml")


def assert_golden(child: dict, path: Path) -> None:
    expected = yaml.safe_load(path.read_text()) if path.exists() else None
    if child != expected and os.environ.get("CPS1_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(child, sort_keys=True))
        pytest.fail(f"rewrote {path.name}: review the diff, then run again without CPS1_UPDATE_GOLDEN")
    assert child == expected


def test_every_kind_is_rendered(python_template: dict) -> None:
    assert sorted(rendered("python", {"python": python_template, "node": {}})) == sorted(KINDS)
