"""The fault tier reuses the e2e control plane; its hooks sit behind the recording proxy, which
the tests can make answer errors."""

from collections.abc import Iterator

import pytest

from cps1.localcluster.cluster import LocalCluster
from tests.support.cluster import RUNNING, Env, installed
from tests.support.cluster import pytest_runtest_makereport as pytest_runtest_makereport  # the log tails


@pytest.fixture(scope="session")
def faulty_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with LocalCluster(tmp_path_factory.mktemp("faults"), nodes=3) as cluster:
        RUNNING.append(cluster)
        with installed(cluster, "fault-hook-requests") as running:
            yield running
        RUNNING.clear()
