"""Shared test helpers: paths and loaders for the shipped examples, and the network guard that
every test process and every Python process a test starts runs under."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cps1.localcluster import node
from tests.netguard import sitecustomize as netguard

ROOT = Path(__file__).resolve().parent.parent
# Addresses a test run may dial: loopback, and the ranges of the pods and Services it runs itself.
ALLOWED_NETWORKS = f"127.0.0.0/8,::1/128,{node.POD_CIDR},{node.SERVICE_CIDR}"


@pytest.fixture(scope="session", autouse=True)
def network_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Refuse (and record) any connection outside the allowed ranges, in this process and, via
    PYTHONPATH, in every Python subprocess; the session fails if any process tried one."""
    log = tmp_path_factory.mktemp("netguard") / "violations.log"
    guard_dir = str(Path(netguard.__file__).parent)
    os.environ[netguard.ALLOWED_ENV] = ALLOWED_NETWORKS
    os.environ[netguard.VIOLATIONS_ENV] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (guard_dir, os.environ.get("PYTHONPATH")) if p)
    netguard.install()
    yield
    violations = log.read_text() if log.exists() else ""
    assert not violations, f"connections outside loopback and the run's pods:\n{violations}"


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
