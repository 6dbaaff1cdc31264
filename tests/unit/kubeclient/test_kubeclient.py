"""The shared Kubernetes client: its configuration and the one poll loop every wait uses."""

import time
from pathlib import Path

import pytest
import yaml

import kubeclient


def test_wait_for_returns_the_first_true_value() -> None:
    answers = iter([None, 0, {"phase": "Running"}])
    assert kubeclient.wait_for(lambda: next(answers), 5, "never", interval=0.01) == {"phase": "Running"}


def test_wait_for_names_what_it_waited_for_and_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"the pod to run \(after 0s; last value: ''\)"):
        kubeclient.wait_for(lambda: "", 0.2, "the pod to run", interval=0.05)
    assert 0.2 <= time.monotonic() - started < 2


def test_poll_checks_at_once_and_once_more_at_the_deadline() -> None:
    started = time.monotonic()
    rounds = sum(1 for _ in kubeclient.poll(0.25, 0.1))
    assert rounds == 4  # at 0, 0.1, 0.2 and the deadline (0.25)
    assert 0.25 <= time.monotonic() - started < 2


def test_configuration_from_a_named_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    conf = kubeclient.configuration(path)
    assert conf.host == "https://127.0.0.1:6443"
    assert conf.connection_pool_maxsize == 32
