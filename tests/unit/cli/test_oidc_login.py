"""`cps1 login --oidc`'s pure rules: the device grant's polling (RFC 8628 section 3.5), which
flow it takes, and what it accepts of the redirect to its loopback listener; both whole flows
against a real provider are tests/e2e/test_oidc.py."""

import pytest

from cps1 import oidc_login


def test_pending_waits_the_interval_and_slow_down_waits_longer() -> None:
    assert oidc_login.next_step(400, {"error": "authorization_pending"}, 5) == oidc_login.Step(wait=5)
    assert oidc_login.next_step(400, {"error": "slow_down"}, 5) == oidc_login.Step(wait=10)


def test_success_hands_back_the_id_token() -> None:
    assert oidc_login.next_step(200, {"id_token": "a.b.c", "access_token": "x"}, 5).id_token == "a.b.c"


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
    with pytest.raises(oidc_login.OidcLoginFailed, match=said):
        oidc_login.next_step(status, answer, 5)


def test_the_device_grant_is_used_where_offered_unless_the_browser_is_asked_for() -> None:
    offered = {"device_authorization_endpoint": "https://idp/device", "token_endpoint": "https://idp/token"}
    assert oidc_login.use_device_grant(offered, browser=False)
    assert not oidc_login.use_device_grant(offered, browser=True)
    assert not oidc_login.use_device_grant({"token_endpoint": "https://idp/token"}, browser=False)


def test_the_loopback_redirect_gives_the_code_only_for_this_sign_in() -> None:
    assert oidc_login.redirect_result("code=abc&state=s1", "s1") == "abc"
    with pytest.raises(oidc_login.OidcLoginFailed, match="another sign-in"):
        oidc_login.redirect_result("code=abc&state=other", "s1")
    with pytest.raises(oidc_login.OidcLoginFailed, match="another sign-in"):
        oidc_login.redirect_result("code=abc", "s1")
    with pytest.raises(oidc_login.OidcLoginFailed, match="refused: the person said no"):
        oidc_login.redirect_result("error=access_denied&error_description=the+person+said+no&state=s1", "s1")
    with pytest.raises(oidc_login.OidcLoginFailed, match="without a code"):
        oidc_login.redirect_result("state=s1", "s1")
