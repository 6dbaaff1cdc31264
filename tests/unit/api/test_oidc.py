"""ID tokens signed with keys generated here: what api/oidc.py accepts and what it refuses
(tampered, expired, for another client, from another issuer, a replayed nonce, a symmetric
signature), the key rotation it follows, and the claims -> user mapping. The whole sign-in
against a real OpenID Provider is tests/e2e/test_oidc.py."""

import base64
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from api import oidc, views_oidc
from api.app import create_app
from api.settings import Settings
from common import accounts
from tests.unit.api.memory_store import MemoryStore

ISSUER = "https://idp.example.com"
CLIENT = "cps1"
NOW = 1_800_000_000


class Idp:
    """The provider's two documents, served from memory; counts the key fetches."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "one", "use": "sig", "alg": "RS256"})
        self.fetches = 0

    def fetch(self, url: str) -> dict[str, Any]:
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}
        self.fetches += 1
        return dict(KeySet([self.key]).as_dict(private=False))

    def sign(self, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
        body = {"iss": ISSUER, "aud": CLIENT, "sub": "u-1", "iat": NOW - 10, "exp": NOW + 300, "nonce": "n1", **claims}
        key = key or self.key
        return jwt.encode({"alg": alg, "kid": key.kid or ""}, {k: v for k, v in body.items() if v is not None}, key)


@pytest.fixture
def idp() -> Idp:
    return Idp()


def verify(idp: Idp, token: str, nonce: str | None = "n1", now: int = NOW) -> dict[str, Any]:
    return oidc.verify_id_token(
        token, oidc.Provider(ISSUER, idp.fetch), audience=CLIENT, nonce=nonce, now=now, leeway=60
    )


def test_a_good_token_gives_its_claims(idp: Idp) -> None:
    assert verify(idp, idp.sign(groups=["dev"]))["groups"] == ["dev"]


def test_a_tampered_token_is_refused(idp: Idp) -> None:
    header, payload, signature = idp.sign().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "admin"}).encode()).decode().rstrip("=")
    with pytest.raises(oidc.SignInError, match="not valid"):
        verify(idp, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    ("claims", "now", "nonce"),
    [
        ({"exp": NOW - 61}, NOW, "n1"),  # expired beyond the allowed skew
        ({"aud": "another-client"}, NOW, "n1"),
        ({"aud": ["another-client", CLIENT], "azp": "another-client"}, NOW, "n1"),
        ({"iss": "https://evil.example.com"}, NOW, "n1"),
        ({"nonce": "replayed"}, NOW, "n1"),
        ({"iat": NOW + 120}, NOW, "n1"),  # issued in the future
        ({"sub": None}, NOW, "n1"),
        ({"nonce": None}, NOW, "n1"),
    ],
)
def test_a_token_not_for_us_or_not_current_is_refused(idp: Idp, claims: dict[str, Any], now: int, nonce: str) -> None:
    with pytest.raises(oidc.SignInError, match="not valid"):
        verify(idp, idp.sign(**claims), nonce=nonce, now=now)


def test_clock_skew_within_the_leeway_is_accepted(idp: Idp) -> None:
    assert verify(idp, idp.sign(exp=NOW - 30))["sub"] == "u-1"


def test_the_cli_token_has_no_nonce_to_check(idp: Idp) -> None:
    assert verify(idp, idp.sign(nonce=None), nonce=None)["sub"] == "u-1"


def test_a_token_signed_with_a_shared_secret_is_refused(idp: Idp) -> None:
    secret = OctKey.import_key("the-client-secret-known-to-every-copy")
    with pytest.raises(oidc.SignInError, match="not valid"):
        verify(idp, idp.sign(key=secret, alg="HS256"))


def test_a_key_of_another_party_with_our_kid_is_refused(idp: Idp) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "one"})
    with pytest.raises(oidc.SignInError, match="not valid"):
        verify(idp, idp.sign(key=stranger))


def test_a_rotated_key_is_fetched_once_and_then_cached(idp: Idp) -> None:
    clock = [1000.0]
    provider = oidc.Provider(ISSUER, idp.fetch, clock=lambda: clock[0])
    check = dict(audience=CLIENT, nonce="n1", now=NOW, leeway=60)
    oidc.verify_id_token(idp.sign(), provider, **check)  # type: ignore[arg-type]
    idp.key = RSAKey.generate_key(2048, parameters={"kid": "two", "use": "sig", "alg": "RS256"})
    clock[0] += oidc.REFETCH_SECONDS
    oidc.verify_id_token(idp.sign(), provider, **check)  # type: ignore[arg-type]
    oidc.verify_id_token(idp.sign(), provider, **check)  # type: ignore[arg-type]
    assert idp.fetches == 2


def test_made_up_key_ids_do_not_make_it_hammer_the_provider(idp: Idp) -> None:
    clock = [1000.0]
    provider = oidc.Provider(ISSUER, idp.fetch, clock=lambda: clock[0])
    check = dict(audience=CLIENT, nonce="n1", now=NOW, leeway=60)
    oidc.verify_id_token(idp.sign(), provider, **check)  # type: ignore[arg-type]
    for n in range(5):
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"made-up-{n}"})
        with pytest.raises(oidc.SignInError):
            oidc.verify_id_token(idp.sign(key=stranger), provider, **check)  # type: ignore[arg-type]
    assert idp.fetches == 1


def test_a_provider_naming_another_issuer_is_refused() -> None:
    provider = oidc.Provider(ISSUER, lambda url: {"issuer": "https://elsewhere.example.com"})
    with pytest.raises(oidc.SignInError, match="another issuer"):
        provider.metadata()


@pytest.mark.parametrize(
    ("claims", "claim", "name"),
    [
        ({"preferred_username": "Alice"}, "preferred_username", "alice"),
        ({"email": "Bob.Smith@Example.com"}, "email", "bob-smith"),
        ({"preferred_username": "dom\\carol_x"}, "preferred_username", "dom-carol-x"),
    ],
)
def test_the_user_name_comes_from_the_configured_claim(claims: dict[str, Any], claim: str, name: str) -> None:
    assert oidc.user_name(claims, claim) == name


@pytest.mark.parametrize(
    "claims", [{}, {"preferred_username": ""}, {"preferred_username": "___"}, {"preferred_username": 7}]
)
def test_no_usable_name_refuses_the_sign_in(claims: dict[str, Any]) -> None:
    with pytest.raises(oidc.SignInError):
        oidc.user_name(claims, "preferred_username")


def test_groups_and_admin_come_from_the_configured_claims() -> None:
    claims = {"iss": ISSUER, "sub": "s", "email": "dana@example.com", "roles": ["devs", "ops", 3]}
    who = oidc.identity(claims, username_claim="email", groups_claim="roles", admin_groups=("ops",))
    assert who == oidc.Identity(name="dana", groups=("devs", "ops"), admin=True, subject=f"{ISSUER} s")
    assert oidc.groups({"g": "solo"}, "g") == ("solo",)
    assert not oidc.identity(claims, username_claim="email", groups_claim="missing", admin_groups=("ops",)).admin


def test_keyset_round_trip_is_public_only(idp: Idp) -> None:
    assert "d" not in KeySet.import_key_set(idp.fetch(ISSUER + "/jwks")).as_dict()["keys"][0]  # type: ignore[arg-type]


def test_oidc_settings_need_the_client_and_both_public_addresses() -> None:
    with pytest.raises(ValueError, match=r"CPS1_API_OIDC_CLIENT_SECRET.*CPS1_API_CONSOLE_URL"):
        Settings(oidc_issuer=ISSUER, oidc_client_id=CLIENT, public_url="https://cps1.example.com").check()
    Settings(
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT,
        oidc_client_secret="s" * 32,
        public_url="https://cps1.example.com",
        console_url="https://cps1.example.com/",
    ).check()


@pytest.mark.parametrize(
    ("configmap", "said"),
    [
        (None, None),  # a new user, bound at this sign-in
        ({"data": accounts.user_data(None)}, None),  # made by an admin beforehand: bound now
        ({"data": accounts.user_data(None, subject=f"{ISSUER} u-1")}, None),
        ({"data": accounts.user_data(None, subject=f"{ISSUER} someone-else")}, "another account"),
        ({"data": accounts.user_data(None, admin=True)}, "signs in with an API token"),  # the first admin
        ({"data": accounts.user_data(None, disabled=True, subject=f"{ISSUER} u-1")}, "is disabled"),
    ],
)
def test_a_name_is_bound_to_one_provider_account(configmap: dict[str, Any] | None, said: str | None) -> None:
    who = oidc.Identity(name="alice", groups=(), admin=False, subject=f"{ISSUER} u-1")
    refused = oidc.refusal(configmap, who)
    assert refused is None if said is None else said in (refused or "")


def _app(**oidc: str) -> FlaskClient:
    return create_app(Settings(**oidc), MemoryStore()).test_client()  # type: ignore[arg-type]  # the memory store stands in


def test_without_an_issuer_sign_in_is_off() -> None:
    client = _app()
    assert client.get("/api/v1/oidc").get_json() == {"enabled": False}
    assert client.get("/api/v1/oidc/login").status_code == 404


def test_a_provider_out_of_reach_is_a_502_in_words() -> None:
    client = _app(
        oidc_issuer="http://127.0.0.1:9",  # discard: nothing listens
        oidc_client_id=CLIENT,
        oidc_client_secret="s" * 32,
        public_url="http://127.0.0.1:8080",
        console_url="http://127.0.0.1:8501/",
    )
    answer = client.get("/api/v1/oidc/login")
    assert answer.status_code == 502
    assert "could not be reached" in answer.get_json()["message"]


SESSION = "cps1_0123456789ab_" + "s" * 40


@pytest.mark.parametrize(
    ("fetch_site", "proof", "session", "allowed"),
    [
        ("same-origin", "", SESSION, True),  # the console behind the same Ingress host, the confirm form
        ("none", "", SESSION, True),  # typed into the address bar
        ("same-site", accounts.sign_out_proof(SESSION), SESSION, True),  # the console's link (dev: another port)
        ("same-site", "", SESSION, False),  # a public preview on a sibling host
        ("cross-site", "", SESSION, False),
        ("cross-site", accounts.sign_out_proof("cps1_0123456789ab_" + "x" * 40), SESSION, False),  # another's
        ("", "", SESSION, False),  # no Fetch Metadata and no proof: ask
        ("cross-site", "", "", False),
    ],
)
def test_only_cps1s_own_pages_sign_a_person_out_at_once(
    fetch_site: str, proof: str, session: str, allowed: bool
) -> None:
    assert views_oidc.sign_out_allowed(fetch_site, proof, session) is allowed


def test_a_sign_out_link_from_elsewhere_asks_and_the_confirm_form_signs_out() -> None:
    client = _app(
        oidc_issuer="http://127.0.0.1:9",  # nothing listens: no end-session endpoint to go to
        oidc_client_id="cps1",
        oidc_client_secret="s" * 32,
        public_url="https://cps1.example.com",
        console_url="https://cps1.example.com/",
    )
    client.set_cookie("cps1_session", SESSION)
    asked = client.get("/api/v1/oidc/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert asked.status_code == 200 and b'<form method="post">' in asked.data
    assert asked.headers["X-Frame-Options"] == "DENY" and "Set-Cookie" not in asked.headers
    proof = accounts.sign_out_proof(SESSION)
    assert f'value="{proof}"'.encode() in asked.data
    refused = client.post("/api/v1/oidc/logout", data={"proof": "guess"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and "own pages" in refused.get_json()["message"]
    done = client.post("/api/v1/oidc/logout", data={"proof": proof}, headers={"Sec-Fetch-Site": "same-site"})
    assert done.status_code == 303 and done.headers["Location"] == "https://cps1.example.com/"
    assert "cps1_session=;" in done.headers["Set-Cookie"]
