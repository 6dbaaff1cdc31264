"""The fault tier reuses the e2e control plane; its hooks sit behind the recording proxy, which
the tests can make answer errors."""

from collections.abc import Iterator

import pytest

from cps1 import kube
from cps1.localcluster import install
from cps1.localcluster.cluster import LocalCluster
from tests.constants import GATEWAY_KEY, MAX_RESYNC_SECONDS, TEST_SEED
from tests.e2e.conftest import _RUNNING, ARTIFACTS, Env, loopback_only, pytest_runtest_makereport  # noqa: F401
from tests.e2e.recorder import Recorder


@pytest.fixture(scope="session")
def faulty_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with LocalCluster(tmp_path_factory.mktemp("faults"), nodes=3) as cluster:
        _RUNNING.append(cluster)
        hooks, hooks_url = install.gunicorn_process(
            cluster.run_dir,
            {
                "CPS1_SECRET_SEED": TEST_SEED,
                "CPS1_GATEWAY_PUBLIC_KEY": GATEWAY_KEY,
                "CPS1_MAX_RESYNC_SECONDS": str(MAX_RESYNC_SECONDS),
            },
        )
        cluster.launch(hooks)
        with Recorder(hooks_url, ARTIFACTS / "fault-hook-requests") as recorder:
            client = kube.dynamic_client(cluster.kubeconfig)
            install.install_crds(client)
            install.install_controller(client, recorder.url)
            yield Env(cluster, hooks, hooks_url, recorder)
        _RUNNING.clear()
