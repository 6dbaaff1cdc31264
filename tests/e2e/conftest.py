"""End-to-end fixtures: one real control plane per test session, the hooks under gunicorn,
and CPS1 installed in it. Tests isolate themselves by object names.

On a failure, the tail of every component's log is attached to the test report.
"""

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

from cps1 import kube
from cps1.localcluster import install
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import Process
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS, TEST_SEED
from tests.e2e.recorder import Recorder

ARTIFACTS = Path(os.environ.get("CPS1_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
_RUNNING: list[LocalCluster] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


class Env:
    """The running installation: cluster, hooks process, client, and helpers for tests."""

    def __init__(self, cluster: LocalCluster, hooks: Process, hooks_url: str, recorder: Recorder) -> None:
        self.cluster = cluster
        self.hooks = hooks
        self.hooks_url = hooks_url
        self.recorder = recorder
        self.client = kube.dynamic_client(cluster.kubeconfig)


def wait_until(
    check: Callable[[], object], timeout: float = 60, interval: float = 0.25, what: str = "condition"
) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    run_dir = tmp_path_factory.mktemp("cluster")
    with LocalCluster(run_dir, nodes=2) as running:
        _RUNNING.append(running)
        yield running
        _RUNNING.remove(running)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A control plane with the real node (pods really run) and one tainted kwok node."""
    with LocalCluster(tmp_path_factory.mktemp("realnode"), nodes=1, real_node=True) as running:
        _RUNNING.append(running)
        yield running
        _RUNNING.remove(running)


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
    with Recorder(hooks_url, ARTIFACTS / records) as recorder:
        client = kube.dynamic_client(cluster.kubeconfig)
        install.install_crds(client)
        install.install_controller(client, recorder.url)
        yield Env(cluster, hooks, hooks_url, recorder)


CHROMIUM = "/usr/bin/chromium"
# Debian's chromium, never `playwright install`; these flags keep it from dialling anything but
# the pages a test opens on loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator["Browser"]:
    """Headless Chromium for the browser tests (console, IDE). Never skipped:
    scripts/system-packages.sh (run by `make test`) installs exactly this path."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def env(cluster: LocalCluster) -> Iterator[Env]:
    with installed(cluster, "hook-requests") as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    if report.failed and _RUNNING:
        for name, text in _RUNNING[0].logs().items():
            report.sections.append((f"{name} log (tail)", text))
    return report
