"""The hooks' installation settings: read from the environment, refused when unsafe."""

import re

import pytest

from hooks.settings import Settings
from tests.conftest import ROOT


@pytest.mark.parametrize("seed", [None, "", "seven77"])
def test_the_hooks_refuse_to_start_without_a_seed(seed: str | None) -> None:
    environ = {} if seed is None else {"CPS1_SECRET_SEED": seed}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CPS1_SECRET_SEED", raising=False)
        for key, value in environ.items():
            patch.setenv(key, value)
        with pytest.raises(ValueError, match="CPS1_SECRET_SEED"):
            Settings.from_env()


def test_network_ranges_are_comma_separated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPS1_SECRET_SEED", "s" * 32)
    monkeypatch.setenv("CPS1_CLUSTER_POD_CIDRS", "172.30.0.0/16, 172.31.0.0/16")
    settings = Settings.from_env()
    assert settings.cluster_pod_cidrs == ("172.30.0.0/16", "172.31.0.0/16")
    assert settings.cluster_service_cidrs == ("10.96.0.0/16",)


def test_the_default_service_range_is_the_local_clusters() -> None:
    """The local control plane's Service range (cps1/localcluster/cluster.py) is the default
    Workspaces may not reach, so `cps1 dev up` is protected without settings."""
    source = (ROOT / "cps1" / "localcluster" / "cluster.py").read_text()
    match = re.search(r"--service-cluster-ip-range=([0-9./]+)", source)
    assert match is not None
    assert Settings().cluster_service_cidrs == (match.group(1),)
