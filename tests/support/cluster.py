"""What the e2e and fault tiers (and the benchmarks) share about a running installation: the
`Env` a test gets, installing CPS1 into a local cluster, waiting, and the component log tails
attached to a failed test's report (conftests import `pytest_runtest_makereport`)."""

import contextlib
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes.dynamic import DynamicClient

import kubeclient as kube
from cps1.localcluster import install
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import Process
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS, TEST_SEED
from tests.support.recorder import Recorder

ARTIFACTS = Path(os.environ.get("CPS1_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
T = TypeVar("T")

# The clusters of this test session, whose logs a failed test's report gets.
RUNNING: list[LocalCluster] = []


def found(obj: dict[str, Any] | None, what: str = "the object") -> dict[str, Any]:
    """`obj` from a read that must find it: a missing one fails the test right there."""
    assert obj is not None, f"{what} does not exist"
    return obj


class Env:
    """The running installation: cluster, hooks process, client, and helpers for tests."""

    def __init__(
        self, cluster: LocalCluster, hooks: Process, hooks_url: str, recorder: Recorder, client: DynamicClient
    ) -> None:
        self.cluster = cluster
        self.hooks = hooks
        self.hooks_url = hooks_url
        self.recorder = recorder
        self.client = client


def wait_until(
    check: Callable[[], T | None], timeout: float = 60, interval: float = 0.25, what: str = "condition"
) -> T:
    """kubeclient's wait, with the tests' defaults."""
    return kube.wait_for(check, timeout, f"timed out waiting for {what}", interval)


@contextlib.contextmanager
def installed(cluster: LocalCluster, records: str, hooks_env: dict[str, str] | None = None) -> Iterator[Env]:
    """CPS1 installed in `cluster`: CRDs, the hooks under gunicorn with the test settings (plus
    `hooks_env`), and the CompositeController calling them through a recording proxy (records
    under ARTIFACTS/records)."""
    hooks, hooks_url = install.gunicorn_process(
        cluster.run_dir,
        {
            "CPS1_HOOKS_SECRET_SEED": TEST_SEED,
            "CPS1_HOOKS_GATEWAY_PUBLIC_KEY": GATEWAY_KEY,
            "CPS1_HOOKS_MAX_RESYNC_SECONDS": str(MAX_RESYNC_SECONDS),
            **(hooks_env or {}),
        },
    )
    cluster.launch(hooks)
    with Recorder(hooks_url, ARTIFACTS / records) as recorder, kube.connected(cluster.kubeconfig) as client:
        install.install_crds(client)
        install.install_controller(client, recorder.url)
        yield Env(cluster, hooks, hooks_url, recorder, client)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and RUNNING:
        for name, text in RUNNING[0].logs().items():
            report.sections.append((f"{name} log (tail)", text))
    return report
