"""The CRDs are structural, and their schemas accept the examples and reject bad objects.
(CEL rules run for real in the e2e tests, against the API server.)"""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, load

CRDS = sorted((ROOT / "crds").glob("*.yaml"))


def schema(kind: str) -> dict:
    for path in CRDS:
        doc = load(path)
        if doc["spec"]["names"]["kind"] == kind:
            return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    raise KeyError(kind)


def walk(node: dict, path: str = "") -> list[str]:
    """Places where a structural schema would be violated: a node without a type."""
    problems = []
    if not (
        node.get("type") or node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    ):
        problems.append(path or "(root)")
    for name, child in (node.get("properties") or {}).items():
        problems += walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += walk(node["additionalProperties"], f"{path}{{}}")
    return problems


@pytest.mark.parametrize("path", CRDS, ids=lambda p: p.name)
def test_crd_is_structural_with_status_columns_and_names(path: Path) -> None:
    crd = load(path)
    assert crd["spec"]["scope"] == "Cluster"
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"]
    assert crd["spec"]["names"]["categories"] == ["cps1"]
    assert walk(version["schema"]["openAPIV3Schema"]) == []


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate(path: Path) -> None:
    doc = load(path)
    jsonschema.Draft7Validator(schema(doc["kind"])).validate(doc)


WORKSPACE = load(ROOT / "examples" / "workspaces" / "alice-api.yaml")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "owner"), "Alice"),
        (("spec", "template"), "has space"),
        (("spec", "running"), "yes"),
        (("spec", "idleTimeoutSeconds"), -5),
        (("spec", "storage", "onDelete"), "Archive"),
        (("spec", "storage", "size"), "ten gigs"),
        (("spec", "sshAuthorizedKeys"), ["not a key"]),
    ],
)
def test_bad_workspace_is_rejected(path: tuple[str, ...], value: object) -> None:
    doc = copy.deepcopy(WORKSPACE)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema("Workspace")).validate(doc)


def test_crd_yaml_has_no_duplicate_documents() -> None:
    for path in CRDS:
        assert len(list(yaml.safe_load_all(path.read_text()))) == 1
