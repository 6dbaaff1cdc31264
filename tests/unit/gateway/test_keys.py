"""Host key persistence, including the race between two replicas starting together.

The Secret store here is a stand-in for gateway.cluster.Cluster's two Secret methods (the
gateway's own boundary), so the conflict branch can be driven; the real Secret round trip runs
in tests/e2e/test_gateway_process.py against the API server.
"""

from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from gateway import keys


class Secrets:
    def __init__(self, existing: dict | None = None, lose_race_to: dict | None = None) -> None:
        self.stored = existing
        self.lose_race_to = lose_race_to
        self.created: list[dict] = []

    def secret(self, namespace: str, name: str) -> dict | None:
        return self.stored

    def create_secret(self, body: dict) -> dict:
        if self.lose_race_to is not None:
            self.stored = self.lose_race_to
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)
        self.stored = body
        return body


def test_a_host_key_is_generated_once_and_then_reused() -> None:
    store = Secrets()
    first = keys.host_key(store, "ns", "gw")
    assert len(store.created) == 1
    assert store.created[0]["metadata"] == {
        "name": "gw",
        "namespace": "ns",
        "labels": {"app.kubernetes.io/name": "cps1-gateway", "app.kubernetes.io/part-of": "cps1"},
    }
    again = keys.host_key(store, "ns", "gw")
    assert len(store.created) == 1
    assert keys.public_line(again) == keys.public_line(first)


def test_the_loser_of_a_creation_race_uses_the_winners_key() -> None:
    winner = Secrets()
    winners_key = keys.host_key(winner, "ns", "gw")
    loser = Secrets(lose_race_to=winner.stored)
    assert keys.public_line(keys.host_key(loser, "ns", "gw")) == keys.public_line(winners_key)


def test_other_api_errors_are_not_swallowed() -> None:
    class Broken(Secrets):
        def create_secret(self, body: dict) -> dict:
            raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException):
        keys.host_key(Broken(), "ns", "gw")


def test_a_key_file_wins_and_keys_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "host_key"
    path.write_text(keys.generate_ed25519())
    loaded = keys.host_key(Secrets(), "ns", "gw", key_file=str(path))
    line = keys.public_line(loaded)
    assert line.startswith("ssh-ed25519 ") and keys.matches_line(loaded, line + " comment")
    assert not keys.matches_line(loaded, keys.public_line(keys.load_private_key(keys.generate_ed25519())))
    with pytest.raises(ValueError, match="private key"):
        keys.load_private_key("not a key")
