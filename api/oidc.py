"""Sign-in through the company's OpenID Provider: the provider's discovery document and keys,
the checks an ID token must pass, and the pure mapping from its claims to a CPS1 user.

The JOSE work is joserfc's (Authlib's JOSE library): signature, `iss`, `aud`/`azp`, `exp`,
`iat`, `nonce`, within a bounded clock skew. Keys are fetched from the provider's `jwks_uri`
and fetched again once when a token names a key id we do not know (the provider rotated). The
HTTP side (redirects, the code exchange, cookies) is api/views_oidc.py.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from common import accounts

# Asymmetric algorithms only: an HS256 token would be signed with the client secret, which
# the provider shares with every copy of the client.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
REFETCH_SECONDS = 30.0
USER_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
MAX_NAME = 63

Fetch = Callable[[str], dict[str, Any]]


class SignInError(Exception):
    """A sign-in that must be refused; the message is safe to show to the person signing in."""


class ProviderUnreachable(SignInError):
    """The identity provider did not answer (or not with JSON): the sign-in may work later."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, in CPS1's terms."""

    name: str
    groups: tuple[str, ...]
    admin: bool
    subject: str


class Provider:
    """The provider's metadata and signing keys, fetched on first use and cached; thread-safe
    (gunicorn threads share one)."""

    def __init__(self, issuer: str, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer.rstrip("/")
        self.fetch = fetch
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                metadata = self.fetch(self.issuer + "/.well-known/openid-configuration")
                if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
                    raise SignInError(f"the provider at {self.issuer} names another issuer: {metadata.get('issuer')!r}")
                self._metadata = metadata
            return self._metadata

    def endpoint(self, name: str) -> str:
        url = self.metadata().get(name)
        if not url:
            raise SignInError(f"the identity provider offers no {name.replace('_', ' ')}")
        return str(url)

    def keys(self, kid: str | None) -> KeySet:
        """The provider's keys, fetched again when `kid` is not among the cached ones, at most
        once per REFETCH_SECONDS (tokens with made-up key ids must not make us hammer the
        provider)."""
        with self._lock:
            cached, fetched = self._keys, self._fetched
        known = cached is not None and (kid is None or any(k.kid == kid for k in cached.keys))
        if cached is None or (not known and self.clock() - fetched >= REFETCH_SECONDS):
            cached = KeySet.import_key_set(self.fetch(self.endpoint("jwks_uri")))  # type: ignore[arg-type]
            with self._lock:
                self._keys, self._fetched = cached, self.clock()
        return cached


def verify_id_token(
    token: str,
    provider: Provider,
    *,
    audience: str,
    nonce: str | None,
    now: int,
    leeway: int,
) -> dict[str, Any]:
    """The ID token's claims once it proves to be the provider's, for us (`audience`), current
    and, in a browser sign-in, answering our `nonce`; SignInError otherwise."""
    try:
        decoded = jwt.decode(token, lambda guest: provider.keys(guest.headers().get("kid")), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as err:
        raise SignInError(f"the ID token is not valid: {err}") from err
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": audience},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    claims = decoded.claims
    try:
        jwt.JWTClaimsRegistry(now=now, leeway=leeway, **options).validate(claims)
    except JoseError as err:
        raise SignInError(f"the ID token is not valid: {err}") from err
    if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and claims.get("azp") != audience:
        raise SignInError("the ID token is not valid: it was issued to another client (azp)")
    if int(claims["iat"]) > now + leeway:
        raise SignInError("the ID token is not valid: it was issued in the future")
    return claims


def user_name(claims: dict[str, Any], claim: str) -> str:
    """The CPS1 user name from `claim` (preferred_username, email, ...): lower case, an email's
    local part, anything but letters, digits and '-' turned into '-'."""
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise SignInError(f"the identity provider sent no {claim!r} claim to name you by")
    local = value.strip().lower().split("@", 1)[0]
    name = USER_NAME_CHARS.sub("-", local).strip("-")[:MAX_NAME].strip("-")
    if not name or not name[0].isalnum():
        raise SignInError(f"{value!r} (claim {claim!r}) cannot be made a user name")
    return name


def groups(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The groups in `claim`: a list of names, or one name (some providers send a string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(sorted({g for g in value if isinstance(g, str) and g}))


def identity(
    claims: dict[str, Any], *, username_claim: str, groups_claim: str, admin_groups: tuple[str, ...]
) -> Identity:
    """The CPS1 user the verified claims describe; admins are the members of `admin_groups`."""
    member_of = groups(claims, groups_claim)
    return Identity(
        name=user_name(claims, username_claim),
        groups=member_of,
        admin=any(g in admin_groups for g in member_of),
        subject=f"{claims['iss']} {claims['sub']}",
    )


def refusal(configmap: dict[str, Any] | None, who: Identity) -> str | None:
    """Why `who` may not sign in as the CPS1 user whose ConfigMap is `configmap` (None: a new
    user): disabled, bound to another provider account, or an admin account that predates
    sign-in through the provider (the first admin); else None, and the user is bound to `who`."""
    if configmap is None:
        return None
    if accounts.is_disabled(configmap):
        return f"the CPS1 account {who.name!r} is disabled; ask an admin"
    bound = accounts.subject_of(configmap)
    if bound and bound != who.subject:
        return f"the CPS1 user {who.name!r} belongs to another account at the identity provider; ask an admin"
    if not bound and accounts.is_admin(configmap):
        return f"{who.name!r} is an admin account that signs in with an API token, not through the identity provider"
    return None
