"""Authentication's pure pieces: token records, the proxy's shared secret, the failure
throttle and the lookup cache."""

import base64
from typing import Any

import pytest

from api import identity
from api.settings import Settings
from common import accounts


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def token_secret(user: str = "alice", **changes: Any) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "type": accounts.TOKEN_TYPE,
        "metadata": {"name": "cps1-token-a1b2c3d4e5f6", "labels": accounts.token_labels(user)},
        "data": {"hash": _b64("0" * 64), "user": _b64(user), "name": _b64("laptop"), "created": _b64("2026")},
    }
    secret.update(changes)
    return secret


def test_a_token_secret_the_api_wrote_is_believed() -> None:
    record = accounts.token_record(token_secret())
    assert record is not None
    assert (record.id, record.user, record.name) == ("a1b2c3d4e5f6", "alice", "laptop")


@pytest.mark.parametrize(
    "forged",
    [
        token_secret(type="Opaque"),
        token_secret(
            metadata={"name": "cps1-token-a1b2c3d4e5f6", "labels": {"cps1.io/kind": "token", "cps1.io/user": "alice"}}
        ),
        token_secret(metadata={"name": "other", "labels": accounts.token_labels("alice")}),
        token_secret(data={"hash": _b64("0" * 64), "user": _b64("admin")}),
        token_secret(data={"hash": _b64("0" * 64)}),
        token_secret(data={"user": _b64("alice")}),
        token_secret(data={"hash": "%%%", "user": _b64("alice")}),
        None,
    ],
)
def test_a_token_secret_anyone_else_made_authenticates_nobody(forged: dict | None) -> None:
    """What an identity that can create Secrets (the gateway used to) could have written."""
    assert accounts.token_record(forged) is None


def test_a_proxy_header_without_its_shared_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="PROXY_SECRET"):
        Settings(proxy_user_header="X-Forwarded-User").check()
    Settings(proxy_user_header="X-Forwarded-User", proxy_secret="s" * 32).check()
    Settings().check()


def test_the_proxy_identity_needs_network_and_secret() -> None:
    settings = Settings(
        proxy_user_header="X-Forwarded-User", proxy_trusted_networks=("10.0.0.0/8",), proxy_secret="s" * 32
    )
    authenticator = identity.Authenticator.create(None, settings)  # type: ignore[arg-type]  # the proxy path reads no store
    assert authenticator.from_proxy("10.2.3.4", "admin", "wrong") is None
    assert authenticator.from_proxy("192.168.1.1", "admin", "s" * 32) is None
    assert authenticator.from_proxy("junk", "admin", "s" * 32) is None
    off = identity.Authenticator.create(None, Settings())  # type: ignore[arg-type]  # the proxy path reads no store
    assert off.from_proxy("127.0.0.1", "admin", "") is None


def test_the_client_address_comes_from_a_trusted_forwarder_only() -> None:
    trusted = ("10.244.0.0/16",)
    assert identity.client_source("10.244.1.2", "203.0.113.9, 198.51.100.7", trusted) == "198.51.100.7"
    assert identity.client_source("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"
    assert identity.client_source("10.244.1.2", "", trusted) == "10.244.1.2"


def test_failed_authentications_are_throttled_per_source() -> None:
    now = [0.0]
    throttle = identity.FailureThrottle(limit=3, window=60, clock=lambda: now[0], size=2)
    for _ in range(3):
        assert throttle.wait("a") == 0
        throttle.failed("a")
    assert throttle.wait("a") == 60
    assert throttle.wait("b") == 0
    now[0] = 30.0
    assert throttle.wait("a") == 30
    now[0] = 60.5
    assert throttle.wait("a") == 0
    throttle.failed("b")
    throttle.failed("c")
    assert len(throttle.failures) == 2  # bounded memory: the oldest source is forgotten


def test_lookups_are_cached_briefly() -> None:
    now = [0.0]
    loads: list[str] = []
    cache = identity.TtlCache(10, clock=lambda: now[0], size=2)

    def load() -> str:
        loads.append("x")
        return "value"

    assert cache.get("k", load) == cache.get("k", load) == "value"
    assert len(loads) == 1
    now[0] = 11.0
    cache.get("k", load)
    assert len(loads) == 2
    cache.drop("k")
    cache.get("k", load)
    assert len(loads) == 3
