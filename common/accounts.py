"""Where users, their SSH keys and their API tokens live, shared by the api and the gateway.

Kubernetes-native, in the CPS1 system namespace:
- a ConfigMap `cps1-user-<name>` per user, labelled `cps1.io/kind=user` and `cps1.io/user=<name>`,
  with `admin` ("true"/"false") and `keys.json` (a JSON list of {name, key, fingerprint, added});
  public keys are not secrets, and the gateway may read ConfigMaps only;
  a user the admins disabled has `disabled: "true"` (the api answers 401, the gateway refuses);
- a Secret `cps1-token-<id>` per API token, of type `cps1.io/api-token`, labelled
  `cps1.io/kind=token`, `cps1.io/user=<name>` and `app.kubernetes.io/managed-by=cps1-api`,
  holding only a SHA-256 of the token (`hash`), its `user`, `name`, `created` and optional
  `expires`. A token reads `cps1_<id>_<secret>` and is shown once. Only the api may write
  Secrets in the system namespace, and it believes a token Secret only when its name, type,
  labels and recorded user all agree (token_record).
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common import crd, names
from common.timefmt import format_time

KIND_LABEL = f"{crd.GROUP}/kind"
USER_LABEL = f"{crd.GROUP}/user"
USER_PREFIX = "cps1-user-"
TOKEN_PREFIX = "cps1-token-"
TOKEN_TYPE = f"{crd.GROUP}/api-token"
# The header in which an authenticating proxy proves itself to the api (and, through the
# console, which forwards it with the identity header).
PROXY_SECRET_HEADER = "X-CPS1-Proxy-Secret"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# The identity-provider account a user signed in with first (api/oidc.py): a later sign-in
# under the same name from another account is refused.
SUBJECT_KEY = "oidc-subject"
API_MANAGER = "cps1-api"
TOKEN_PATTERN = re.compile(r"^cps1_([a-z0-9]{12})_([A-Za-z0-9_-]{32,64})$")
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def user_configmap(user: str) -> str:
    return USER_PREFIX + user


def token_secret(token_id: str) -> str:
    return TOKEN_PREFIX + token_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def sign_out_proof(session_token: str) -> str:
    """What a sign-out link or form carries to show it comes from CPS1's own pages: derived from
    the HTTP-only session cookie, which no other site can read (logout CSRF; api/views_oidc.py)."""
    return hashlib.sha256(b"cps1-sign-out\0" + session_token.encode()).hexdigest()[:32]


def token_id(token: str) -> str | None:
    """The id part of a well-formed token, or None."""
    match = TOKEN_PATTERN.match(token)
    return match.group(1) if match else None


def new_token(
    user: str, name: str, now: datetime, expires: datetime | None, token: str | None = None
) -> tuple[str, str, dict[str, str]]:
    """(token id, the token itself, the string data of its Secret) for a new token of `user`;
    a configured `token` (bootstrap) keeps its own id. Only the token's hash is in the data."""
    ident = (token_id(token) if token else None) or secrets.token_hex(6)
    token = token or f"cps1_{ident}_{secrets.token_urlsafe(32)}"
    data = {"hash": token_hash(token), "user": user, "name": name, "created": format_time(now)}
    if expires:
        data["expires"] = format_time(expires)
    return ident, token, data


def token_labels(user: str) -> dict[str, str]:
    return {KIND_LABEL: "token", USER_LABEL: user, MANAGED_BY_LABEL: API_MANAGER}


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: never the token itself, only its hash."""

    id: str
    user: str
    hash: str
    name: str
    created: str
    expires: str


def token_record(secret: dict[str, Any] | None) -> TokenRecord | None:
    """The token a Secret holds when the api wrote it, else None: a Secret someone else made
    (wrong type, labels, or a user that disagrees with its label) never authenticates anyone."""
    if not isinstance(secret, dict) or secret.get("type") != TOKEN_TYPE:
        return None
    meta = secret.get("metadata") or {}
    name = str(meta.get("name", ""))
    labels = meta.get("labels") or {}
    if not name.startswith(TOKEN_PREFIX) or labels != {**labels, **token_labels(labels.get(USER_LABEL, ""))}:
        return None
    try:
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    except (binascii.Error, ValueError):
        return None
    user = labels.get(USER_LABEL, "")
    if data.get("user") != user or user_name_error(user) or not data.get("hash"):
        return None
    return TokenRecord(
        id=name.removeprefix(TOKEN_PREFIX),
        user=user,
        hash=data["hash"],
        name=data.get("name", ""),
        created=data.get("created", ""),
        expires=data.get("expires", ""),
    )


@dataclass(frozen=True)
class PublicKey:
    type: str
    blob: str
    comment: str

    @property
    def line(self) -> str:
        return f"{self.type} {self.blob}"

    @property
    def fingerprint(self) -> str:
        """OpenSSH's SHA256 fingerprint, as `ssh-keygen -lf` prints it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(text: str) -> PublicKey:
    """An authorized_keys-style line (`type base64 [comment]`); ValueError says what is wrong."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise ValueError("a public key reads '<type> <base64> [comment]'")
    kind, blob = parts[0], parts[1]
    if kind not in KEY_TYPES:
        raise ValueError(f"unsupported key type {kind!r}; use one of {', '.join(KEY_TYPES)}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("the key data is not valid base64") from err
    if len(raw) < 4:
        raise ValueError("the key data is too short")
    length = int.from_bytes(raw[:4], "big")
    if raw[4 : 4 + length].decode(errors="replace") != kind:
        raise ValueError(f"the key data does not hold a {kind} key")
    return PublicKey(kind, blob, parts[2] if len(parts) > 2 else "")


def keys_of(configmap: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The registered keys in a user ConfigMap ({name, key, fingerprint, added})."""
    raw = ((configmap or {}).get("data") or {}).get("keys.json") or "[]"
    try:
        keys = json.loads(raw)
    except ValueError:
        return []
    return [k for k in keys if isinstance(k, dict) and "key" in k] if isinstance(keys, list) else []


def user_data(
    existing: dict[str, Any] | None,
    admin: bool | None = None,
    disabled: bool | None = None,
    limits: dict[str, Any] | None = None,
    groups: list[str] | None = None,
    subject: str | None = None,
) -> dict[str, str]:
    """A user ConfigMap's data: `existing`'s (or a new user's), with `admin`, `disabled`,
    `limits`, `groups` and the identity provider's `subject` set where given."""
    data = dict(existing or {"admin": "false", "keys.json": "[]"})
    if admin is not None:
        data["admin"] = "true" if admin else "false"
    if disabled is not None:
        data["disabled"] = "true" if disabled else "false"
    if limits is not None:
        data["limits.json"] = json.dumps(limits, sort_keys=True)
    if groups is not None:
        data["groups.json"] = json.dumps(sorted(set(groups)))
    if subject is not None:
        data[SUBJECT_KEY] = subject
    return data


def subject_of(configmap: dict[str, Any] | None) -> str:
    """The identity-provider account (`<issuer> <sub>`) this user is bound to, or ""."""
    return str(((configmap or {}).get("data") or {}).get(SUBJECT_KEY) or "")


def is_admin(configmap: dict[str, Any] | None) -> bool:
    return ((configmap or {}).get("data") or {}).get("admin") == "true"


def groups_of(configmap: dict[str, Any] | None) -> list[str]:
    """The groups an admin put the user in (`groups.json`), for templates restricted to groups."""
    try:
        groups = json.loads(((configmap or {}).get("data") or {}).get("groups.json") or "[]")
    except ValueError:
        return []
    return sorted(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else []


def limits_of(configmap: dict[str, Any] | None) -> dict[str, Any]:
    """The limits an admin set for this user (`limits.json`), or {}."""
    try:
        limits = json.loads(((configmap or {}).get("data") or {}).get("limits.json") or "{}")
    except ValueError:
        return {}
    return limits if isinstance(limits, dict) else {}


def is_disabled(configmap: dict[str, Any] | None) -> bool:
    """A user the admins switched off: no API access, no SSH; their Workspaces keep running."""
    return ((configmap or {}).get("data") or {}).get("disabled") == "true"


def user_name_error(name: str) -> str | None:
    if not name or len(name) > names.MAX_LABEL or not names.USER_NAME.match(name):
        return "a user name is a DNS label: lower-case letters, digits and '-', at most 63 characters"
    return None
