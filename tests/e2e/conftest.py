"""End-to-end fixtures: one real control plane per test session, the hooks under gunicorn,
and CPS1 installed in it (tests/support/cluster.py). Tests isolate themselves by object names.

On a failure, the tail of every component's log is attached to the test report.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

from cps1.localcluster.cluster import LocalCluster
from tests.support.cluster import RUNNING, Env, installed
from tests.support.cluster import pytest_runtest_makereport as pytest_runtest_makereport  # the log tails


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
    # One real node per machine: test_in_cluster.py starts its own (no host Metacontroller) and
    # ends it with the module, so it must run before anything uses the session's `real_cluster`.
    items.sort(key=lambda item: ("/e2e/" in str(item.path), item.path.name != "test_in_cluster.py"))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    run_dir = tmp_path_factory.mktemp("cluster")
    with LocalCluster(run_dir, nodes=2) as running:
        RUNNING.append(running)
        yield running
        RUNNING.remove(running)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A control plane with the real node (pods really run) and one tainted kwok node."""
    with LocalCluster(tmp_path_factory.mktemp("realnode"), nodes=1, real_node=True) as running:
        RUNNING.append(running)
        yield running
        RUNNING.remove(running)


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
