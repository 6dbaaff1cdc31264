"""The fault tier reuses the e2e control plane; its hooks sit behind the recording proxy, which
the tests can make answer errors."""

from collections.abc import Iterator

import pytest

from cps1.localcluster.cluster import LocalCluster
from tests.e2e.conftest import _RUNNING, Env, installed, pytest_runtest_makereport  # noqa: F401


@pytest.fixture(scope="session")
def faulty_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with LocalCluster(tmp_path_factory.mktemp("faults"), nodes=3) as cluster:
        _RUNNING.append(cluster)
        with installed(cluster, "fault-hook-requests") as running:
            yield running
        _RUNNING.clear()
