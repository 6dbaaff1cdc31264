"""Shared test helpers: paths and loaders for the shipped examples."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# The tests' Python template: the example plus one immutable enum parameter, so the parameter
# machinery (choices, immutability, the console's select box) keeps a case. The example itself has
# no such parameter: its image carries one Python (Debian's), so a version choice would do nothing.
TEST_PARAMETER = {
    "name": "pythonVersion",
    "displayName": "Python version",
    "description": "Interpreter made default in the shell.",
    "type": "enum",
    "choices": ["3.11", "3.12"],
    "default": "3.11",
    "mutable": False,
}


def python_example() -> dict:
    template = load(ROOT / "examples" / "templates" / "python.yaml")
    template["spec"]["parameters"].append(dict(TEST_PARAMETER))
    return template


@pytest.fixture
def python_template() -> dict:
    return python_example()


@pytest.fixture
def node_template() -> dict:
    return load(ROOT / "examples" / "templates" / "node.yaml")
