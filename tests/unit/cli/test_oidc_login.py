"""The device authorization grant's polling rules (RFC 8628 section 3.5) as `cps1 login --oidc`
follows them; the whole flow against a real provider is tests/e2e/test_oidc.py."""

import pytest

from cps1 import device_login


def test_pending_waits_the_interval_and_slow_down_waits_longer() -> None:
    assert device_login.next_step(400, {"error": "authorization_pending"}, 5) == device_login.Step(wait=5)
    assert device_login.next_step(400, {"error": "slow_down"}, 5) == device_login.Step(wait=10)


def test_success_hands_back_the_id_token() -> None:
    assert device_login.next_step(200, {"id_token": "a.b.c", "access_token": "x"}, 5).id_token == "a.b.c"


@pytest.mark.parametrize(
    ("status", "answer", "said"),
    [
        (400, {"error": "access_denied"}, "denied"),
        (400, {"error": "expired_token"}, "expired"),
        (400, {"error": "invalid_client", "error_description": "no such client"}, "no such client"),
        (200, {"access_token": "x"}, "no ID token"),
        (500, {}, "500"),
    ],
)
def test_every_other_answer_ends_the_sign_in_in_words(status: int, answer: dict, said: str) -> None:
    with pytest.raises(device_login.DeviceLoginFailed, match=said):
        device_login.next_step(status, answer, 5)
