"""Users' own secrets and Git profile, shared by the api (which writes them) and the hooks
(which copy them into the Workspaces that reference them).

Kubernetes-native, in the CPS1 system namespace, written by the api only:
- a Secret `cps1-usersecret-<digest of user/name>` per user secret, of type
  `cps1.io/user-secret`, labelled `cps1.io/kind=user-secret`, `cps1.io/user=<name>` and
  `app.kubernetes.io/managed-by=cps1-api`, holding `user`, `name`, `kind` (env | file |
  git-credential), `value`, `created` and, for a Git credential, `host` and `username`. The
  object's name follows from the user and the secret's name, so a Workspace's references
  (`spec.secrets`) name only its owner's secrets;
- a Secret `cps1-profile-<user>` of type `cps1.io/user-profile` with the Git name and email and
  the dotfiles repository (not secret, but the hooks then read one kind of object only).
A record is believed only when its type, labels and recorded user agree (as for API tokens).
"""

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from common import accounts, crd

SECRET_TYPE = f"{crd.GROUP}/user-secret"
PROFILE_TYPE = f"{crd.GROUP}/user-profile"
SECRET_PREFIX = "cps1-usersecret-"
PROFILE_PREFIX = "cps1-profile-"
KINDS = ("env", "file", "git-credential")
# An env variable's name, usable as a file name and a Secret key too.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# A Git host; https:// is implied, http:// only for a Git server inside the cluster.
HOST = re.compile(r"^(https?://)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$")
MAX_VALUE_BYTES = 32 * 1024
MAX_SECRETS = 50
PROFILE_FIELDS = ("gitName", "gitEmail", "dotfiles")


def secret_object(user: str, name: str) -> str:
    """The Secret holding `user`'s secret `name` (a digest: names may hold upper case and '_')."""
    return SECRET_PREFIX + hashlib.sha256(f"{user}/{name}".encode()).hexdigest()[:24]


def profile_object(user: str) -> str:
    return PROFILE_PREFIX + user


def labels(user: str, kind: str = "user-secret") -> dict[str, str]:
    return {accounts.KIND_LABEL: kind, accounts.USER_LABEL: user, accounts.MANAGED_BY_LABEL: accounts.API_MANAGER}


def secret_problems(name: str, kind: str, value: str, host: str = "") -> dict[str, str]:
    """What is wrong with a secret a user wants to store, by field ({} when nothing)."""
    problems = {}
    if not NAME.match(name):
        problems["name"] = "letters, digits and '_', not starting with a digit, at most 63 characters"
    if kind not in KINDS:
        problems["kind"] = f"one of {', '.join(KINDS)}"
    if not value or len(value.encode()) > MAX_VALUE_BYTES:
        problems["value"] = f"1 to {MAX_VALUE_BYTES} bytes"
    elif kind in ("env", "git-credential") and ("\n" in value or "\0" in value):
        problems["value"] = "one line"
    if kind == "git-credential" and not HOST.match(host):
        problems["host"] = "a Git host name, optionally with :port (and http:// for a server without TLS)"
    return problems


@dataclass(frozen=True)
class UserSecret:
    """A user secret as stored. `value` is for the hooks; the api never shows it."""

    user: str
    name: str
    kind: str
    value: str
    created: str
    host: str = ""
    username: str = ""
    # When a Workspace that receives it was last created or started through the api.
    last_used: str = ""


def _decoded(obj: dict[str, Any]) -> dict[str, str] | None:
    try:
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    except (binascii.Error, ValueError):
        return None


def _believed(obj: Any, kind_type: str, prefix: str, label_kind: str) -> dict[str, str] | None:
    """The decoded data of an object the api wrote (type, name, labels and user agree), else None."""
    if not isinstance(obj, dict) or obj.get("type") != kind_type:
        return None
    meta = obj.get("metadata") or {}
    found = meta.get("labels") or {}
    user = found.get(accounts.USER_LABEL, "")
    if not str(meta.get("name", "")).startswith(prefix) or found != {**found, **labels(user, label_kind)}:
        return None
    data = _decoded(obj)
    if data is None or data.get("user") != user or accounts.user_name_error(user):
        return None
    return data


def secret_record(obj: Any) -> UserSecret | None:
    """The user secret a Secret holds when the api wrote it, else None."""
    data = _believed(obj, SECRET_TYPE, SECRET_PREFIX, "user-secret")
    if data is None or data.get("kind") not in KINDS or not NAME.match(data.get("name", "")):
        return None
    if obj["metadata"]["name"] != secret_object(data["user"], data["name"]):
        return None
    return UserSecret(
        user=data["user"],
        name=data["name"],
        kind=data["kind"],
        value=data.get("value", ""),
        created=data.get("created", ""),
        host=data.get("host", ""),
        username=data.get("username", ""),
        last_used=data.get("lastUsed", ""),
    )


def secret_body(namespace: str, secret: UserSecret) -> dict[str, Any]:
    """The Secret the api writes for `secret`."""
    data = {"user": secret.user, "name": secret.name, "kind": secret.kind, "value": secret.value}
    data["created"] = secret.created
    if secret.last_used:
        data["lastUsed"] = secret.last_used
    if secret.kind == "git-credential":
        data.update(host=secret.host, username=secret.username)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_object(secret.user, secret.name),
            "namespace": namespace,
            "labels": labels(secret.user),
        },
        "type": SECRET_TYPE,
        "stringData": data,
    }


def describe(secret: UserSecret) -> dict[str, str]:
    """What the api shows of a secret: never its value."""
    out = {"name": secret.name, "kind": secret.kind, "created": secret.created, "lastUsed": secret.last_used}
    if secret.kind == "git-credential":
        out["host"] = secret.host
    return out


def profile_of(obj: Any) -> dict[str, str]:
    """A user's profile ({gitName, gitEmail, dotfiles}, missing fields empty) from the Secret
    the api wrote, else every field empty."""
    data = _believed(obj, PROFILE_TYPE, PROFILE_PREFIX, "user-profile") or {}
    return {field: data.get(field, "") for field in PROFILE_FIELDS}


def profile_body(namespace: str, user: str, profile: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": profile_object(user), "namespace": namespace, "labels": labels(user, "user-profile")},
        "type": PROFILE_TYPE,
        "stringData": {"user": user, **{field: profile.get(field, "") for field in PROFILE_FIELDS}},
    }
