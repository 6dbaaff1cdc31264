"""Shared test helpers: paths and loaders for the shipped examples."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def python_template() -> dict:
    return load(ROOT / "examples" / "templates" / "python.yaml")


@pytest.fixture
def node_template() -> dict:
    return load(ROOT / "examples" / "templates" / "node.yaml")
