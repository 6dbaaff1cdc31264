"""An in-memory stand-in for api.store.Store (our own class, not the Kubernetes API): the same
methods, the objects in the shapes the store returns, and the store's own errors, so the api's
authorization, error mapping and audit lines are tested through Flask's test client alone."""

import base64
import copy
import json
from datetime import UTC, datetime

from api.errors import Conflict, NotFound
from common import accounts, usersecrets


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}
        self.fail_next: Exception | None = None  # raised by the next write, as Kubernetes would
        self.version = 0  # every write gets the next resourceVersion, as in Kubernetes

    def _get(self, kind: str, name: str) -> dict | None:
        found = self.objects.get((kind, name))
        return copy.deepcopy(found) if found else None

    def _list(self, kind: str) -> list[dict]:
        return [copy.deepcopy(o) for (k, _), o in sorted(self.objects.items()) if k == kind]

    def _put(self, kind: str, body: dict, create: bool) -> dict:
        if self.fail_next:
            failure, self.fail_next = self.fail_next, None
            raise failure
        name = body["metadata"]["name"]
        if create and (kind, name) in self.objects:
            raise Conflict("it already exists or changed meanwhile; retry")
        if not create and (kind, name) not in self.objects:
            raise NotFound("not found")
        self.version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[(kind, name)] = stored
        return copy.deepcopy(stored)

    def _delete(self, kind: str, name: str) -> None:
        if self.objects.pop((kind, name), None) is None:
            raise NotFound("not found")

    # Workspaces and templates -------------------------------------------------------------

    def workspaces(self) -> list[dict]:
        return self._list("Workspace")

    def workspace(self, name: str) -> dict | None:
        return self._get("Workspace", name)

    def create_workspace(self, body: dict) -> dict:
        return self._put("Workspace", body, create=True)

    def patch_workspace(self, name: str, patch: dict) -> dict:
        current = self._get("Workspace", name)
        if current is None:
            raise NotFound("not found")
        expected = (patch.get("metadata") or {}).get("resourceVersion")
        if expected and expected != current["metadata"]["resourceVersion"]:
            raise Conflict("it already exists or changed meanwhile; retry")
        return self._put("Workspace", _merge(current, patch), create=False)

    def delete_workspace(self, name: str) -> None:
        self._delete("Workspace", name)

    def templates(self) -> list[dict]:
        return self._list("WorkspaceTemplate")

    def template(self, name: str) -> dict | None:
        return self._get("WorkspaceTemplate", name)

    def save_template(self, body: dict, create: bool, dry_run: bool = False) -> dict:
        if dry_run:
            return copy.deepcopy(body)
        return self._put("WorkspaceTemplate", body, create)

    def delete_template(self, name: str) -> None:
        self._delete("WorkspaceTemplate", name)

    def events(self, workspace: str, limit: int = 50) -> list[dict]:
        return []

    # Accounts -------------------------------------------------------------------------------

    def user_configmap(self, name: str) -> dict | None:
        return self._get("ConfigMap", accounts.user_configmap(name))

    def ensure_user(
        self,
        name: str,
        admin: bool | None = None,
        disabled: bool | None = None,
        limits: dict | None = None,
        groups: list[str] | None = None,
        subject: str | None = None,
    ) -> dict:
        existing = self.user_configmap(name)
        data = accounts.user_data((existing or {}).get("data"), admin, disabled, limits, groups, subject)
        body = {
            "metadata": {
                "name": accounts.user_configmap(name),
                "labels": {accounts.KIND_LABEL: "user", accounts.USER_LABEL: name},
            },
            "data": data,
        }
        return self._put("ConfigMap", body, create=existing is None)

    def users(self) -> list[dict]:
        return [c for c in self._list("ConfigMap") if c["metadata"]["name"].startswith(accounts.USER_PREFIX)]

    def save_keys(self, user: str, keys: list[dict]) -> None:
        configmap = self.ensure_user(user)
        configmap["data"]["keys.json"] = json.dumps(keys, sort_keys=True)
        self._put("ConfigMap", configmap, create=False)

    def tokens(self, user: str) -> list[accounts.TokenRecord]:
        records = map(accounts.token_record, self._list("Secret"))
        return [r for r in records if r is not None and r.user == user]

    def token_secret(self, token_id: str) -> dict | None:
        return self._get("Secret", accounts.token_secret(token_id))

    def token(self, token_id: str) -> accounts.TokenRecord | None:
        return accounts.token_record(self.token_secret(token_id)) if token_id.isalnum() else None

    def bootstrapped(self) -> bool:
        return self._get("ConfigMap", "cps1-bootstrap") is not None

    def mark_bootstrapped(self, admin: str) -> None:
        self.objects[("ConfigMap", "cps1-bootstrap")] = {"metadata": {"name": "cps1-bootstrap"}, "data": {}}

    def create_token(self, user: str, name: str, expires: datetime | None, token: str | None = None) -> tuple[str, str]:
        token_id, token, data = accounts.new_token(user, name, datetime.now(UTC), expires, token)
        body = {
            "type": accounts.TOKEN_TYPE,
            "metadata": {"name": accounts.token_secret(token_id), "labels": accounts.token_labels(user)},
            "data": {k: _b64(v) for k, v in data.items()},
        }
        self._put("Secret", body, create=True)
        return token_id, token

    def delete_token(self, token_id: str) -> None:
        self._delete("Secret", accounts.token_secret(token_id))

    def _put_string_data(self, body: dict) -> None:
        """Store a Secret written with stringData as Kubernetes would: base64 `data`."""
        stored = {k: v for k, v in body.items() if k != "stringData"}
        stored["data"] = {k: _b64(v) for k, v in body["stringData"].items()}
        name = body["metadata"]["name"]
        self._put("Secret", stored, create=("Secret", name) not in self.objects)

    def user_secrets(self, user: str) -> list[usersecrets.UserSecret]:
        records = map(usersecrets.secret_record, self._list("Secret"))
        return [r for r in records if r is not None and r.user == user]

    def save_user_secret(self, secret: usersecrets.UserSecret) -> None:
        self._put_string_data(usersecrets.secret_body("cps1-system", secret))

    def delete_user_secret(self, user: str, name: str) -> None:
        self._delete("Secret", usersecrets.secret_object(user, name))

    def mark_secrets_used(self, user: str, secret_names: list[str], when: str) -> None:
        for name in secret_names:
            found = self._get("Secret", usersecrets.secret_object(user, name))
            if found:
                found["data"]["lastUsed"] = _b64(when)
                self._put("Secret", found, create=False)

    def profile(self, user: str) -> dict[str, str]:
        return usersecrets.profile_of(self._get("Secret", usersecrets.profile_object(user)))

    def save_profile(self, user: str, profile: dict[str, str]) -> None:
        self._put_string_data(usersecrets.profile_body("cps1-system", user, profile))


def _merge(target: dict, patch: dict) -> dict:
    """A JSON merge patch (RFC 7386), as the store sends Workspace patches."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
