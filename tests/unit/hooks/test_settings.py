"""The hooks' installation settings: read from the environment, refused when unsafe."""

import ipaddress

import pytest

from hooks.settings import Settings


@pytest.mark.parametrize("seed", [None, "", "seven77"])
def test_the_hooks_refuse_to_start_without_a_seed(seed: str | None) -> None:
    environ = {} if seed is None else {"CPS1_HOOKS_SECRET_SEED": seed}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CPS1_HOOKS_SECRET_SEED", raising=False)
        for key, value in environ.items():
            patch.setenv(key, value)
        with pytest.raises(ValueError, match="CPS1_HOOKS_SECRET_SEED"):
            Settings.from_env()


def test_network_ranges_are_comma_separated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPS1_HOOKS_SECRET_SEED", "s" * 32)
    monkeypatch.setenv("CPS1_HOOKS_CLUSTER_POD_CIDRS", "172.30.0.0/16, 172.31.0.0/16")
    settings = Settings.from_env()
    assert settings.cluster_pod_cidrs == ("172.30.0.0/16", "172.31.0.0/16")
    assert settings.cluster_service_cidrs == ("10.96.0.0/16",)


def test_the_default_ranges_are_the_local_clusters() -> None:
    """The local cluster's Service and pod ranges (cps1/localcluster/node.py) are the defaults
    Workspaces may not reach, so `cps1 dev up` is protected without settings."""
    from cps1.localcluster import node

    assert Settings().cluster_service_cidrs == (node.SERVICE_CIDR,)
    assert ipaddress.IPv4Network(node.POD_CIDR).subnet_of(ipaddress.IPv4Network(Settings().cluster_pod_cidrs[0]))
