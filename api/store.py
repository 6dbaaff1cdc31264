"""The api's Kubernetes I/O: Workspaces, templates, events, and the account store
(users as ConfigMaps, tokens as Secrets; see common/accounts.py; users' own secrets and
profiles as Secrets, see common/usersecrets.py). The kubernetes client's
exceptions stay in here: a refused write leaves as api.errors (NotFound, Conflict, Rejected)."""

import base64
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

import kubeclient as kube
from api.errors import Conflict, NotFound, Rejected
from common import accounts, crd, names, usersecrets
from common.timefmt import format_time

# Records that the first admin and its token were made, so they are made only once.
BOOTSTRAP_RECORD = "cps1-bootstrap"


def rejected(err: ApiException) -> Rejected:
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        body = {}
    causes = (body.get("details") or {}).get("causes") or []
    fields = {str(c.get("field", "")): str(c.get("message", "")) for c in causes if c.get("field")}
    return Rejected(err.status or 500, str(body.get("message") or err.reason), fields)


@dataclass(frozen=True)
class User:
    name: str
    admin: bool
    groups: tuple[str, ...] = ()


class Store:
    def __init__(self, client: dynamic.DynamicClient, system_namespace: str) -> None:
        self.client = client
        self.ns = system_namespace

    def _res(self, api_version: str, kind: str):
        return kube.resource(self.client, api_version, kind)

    # Workspaces and templates -------------------------------------------------------------

    def workspaces(self) -> list[dict]:
        return list(self._res(crd.API_VERSION, crd.WORKSPACE_KIND).get().to_dict()["items"])

    def workspace(self, name: str) -> dict | None:
        return kube.get(self.client, crd.API_VERSION, crd.WORKSPACE_KIND, name)

    def create_workspace(self, body: dict) -> dict:
        return self._write(lambda: self._res(crd.API_VERSION, crd.WORKSPACE_KIND).create(body=body))

    def patch_workspace(self, name: str, patch: dict) -> dict:
        return self._write(
            lambda: self._res(crd.API_VERSION, crd.WORKSPACE_KIND).patch(
                name=name, body=patch, content_type="application/merge-patch+json"
            )
        )

    def delete_workspace(self, name: str) -> None:
        self._write(lambda: self._res(crd.API_VERSION, crd.WORKSPACE_KIND).delete(name=name))

    def ide_password(self, workspace: str) -> str | None:
        """code-server's password from the Workspace's Secret (written by the hooks), or None
        before the hooks made it."""
        secret = kube.get(self.client, "v1", "Secret", names.SECRET, names.namespace_for(workspace))
        encoded = ((secret or {}).get("data") or {}).get(names.SECRET_IDE_PASSWORD)
        return base64.b64decode(encoded).decode() if encoded else None

    def workspace_service_ip(self, workspace: str) -> str:
        """The cluster IP of the Workspace's Service ("" before the hooks made it)."""
        service = kube.get(self.client, "v1", "Service", names.SERVICE, names.namespace_for(workspace))
        return str(((service or {}).get("spec") or {}).get("clusterIP") or "")

    def templates(self) -> list[dict]:
        return list(self._res(crd.API_VERSION, crd.TEMPLATE_KIND).get().to_dict()["items"])

    def template(self, name: str) -> dict | None:
        return kube.get(self.client, crd.API_VERSION, crd.TEMPLATE_KIND, name)

    def save_template(self, body: dict, create: bool, dry_run: bool = False) -> dict:
        res = self._res(crd.API_VERSION, crd.TEMPLATE_KIND)
        extra = {"query_params": [("dryRun", "All")]} if dry_run else {}
        if create:
            return self._write(lambda: res.create(body=body, **extra))
        return self._write(lambda: res.replace(body=body, name=body["metadata"]["name"], **extra))

    def delete_template(self, name: str) -> None:
        self._write(lambda: self._res(crd.API_VERSION, crd.TEMPLATE_KIND).delete(name=name))

    def events(self, workspace: str, limit: int = 50) -> list[dict]:
        """Recent events of the Workspace object and of everything in its namespace."""
        res = self._res("v1", "Event")
        items = res.get(namespace=names.namespace_for(workspace)).to_dict()["items"]
        items += [
            e
            for e in res.get(field_selector=f"involvedObject.name={workspace}").to_dict()["items"]
            if e.get("involvedObject", {}).get("kind") == crd.WORKSPACE_KIND
        ]

        def when(event: dict) -> str:
            return str(event.get("lastTimestamp") or event.get("eventTime") or event["metadata"]["creationTimestamp"])

        return sorted(items, key=when)[-limit:]

    def _write(self, call):
        try:
            out = call()
        except NotFoundError as err:
            raise NotFound("not found") from err
        except ConflictError as err:
            raise Conflict("it already exists or changed meanwhile; retry") from err
        except ApiException as err:
            raise rejected(err) from err
        return out.to_dict() if hasattr(out, "to_dict") else out

    # Accounts -------------------------------------------------------------------------------

    def user_configmap(self, name: str) -> dict | None:
        return kube.get(self.client, "v1", "ConfigMap", accounts.user_configmap(name), self.ns)

    def ensure_user(
        self,
        name: str,
        admin: bool | None = None,
        disabled: bool | None = None,
        limits: dict | None = None,
        groups: list[str] | None = None,
        subject: str | None = None,
    ) -> dict:
        """Create the user's ConfigMap if missing; set `admin`, `disabled`, `limits`, `groups`
        and the identity provider's `subject` when given."""
        existing = self.user_configmap(name)
        data = accounts.user_data((existing or {}).get("data"), admin, disabled, limits, groups, subject)
        if existing and existing.get("data") == data:
            return existing
        return self._write(
            lambda: kube.apply(
                self.client,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": accounts.user_configmap(name),
                        "namespace": self.ns,
                        "labels": {accounts.KIND_LABEL: "user", accounts.USER_LABEL: name},
                    },
                    "data": data,
                },
            )
        )

    def users(self) -> list[dict]:
        return list(
            self._res("v1", "ConfigMap")
            .get(namespace=self.ns, label_selector=f"{accounts.KIND_LABEL}=user")
            .to_dict()["items"]
        )

    def save_keys(self, user: str, keys: list[dict]) -> None:
        self.ensure_user(user)
        self._write(
            lambda: self._res("v1", "ConfigMap").patch(
                name=accounts.user_configmap(user),
                namespace=self.ns,
                body={"data": {"keys.json": json.dumps(keys, sort_keys=True)}},
                content_type="application/merge-patch+json",
            )
        )

    def tokens(self, user: str) -> list[accounts.TokenRecord]:
        """The user's tokens, only those the api wrote (see accounts.token_record)."""
        selector = ",".join(f"{k}={v}" for k, v in accounts.token_labels(user).items())
        items = self._res("v1", "Secret").get(namespace=self.ns, label_selector=selector).to_dict()["items"]
        return [r for r in map(accounts.token_record, items) if r is not None and r.user == user]

    def token_secret(self, token_id: str) -> dict | None:
        return kube.get(self.client, "v1", "Secret", accounts.token_secret(token_id), self.ns)

    def token(self, token_id: str) -> accounts.TokenRecord | None:
        return accounts.token_record(self.token_secret(token_id)) if token_id.isalnum() else None

    def bootstrapped(self) -> bool:
        return kube.get(self.client, "v1", "ConfigMap", BOOTSTRAP_RECORD, self.ns) is not None

    def mark_bootstrapped(self, admin: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": BOOTSTRAP_RECORD, "namespace": self.ns, "labels": {accounts.KIND_LABEL: "bootstrap"}},
            "data": {"admin": admin, "created": format_time(datetime.now(UTC))},
        }
        with contextlib.suppress(ConflictError):  # another worker recorded it first
            self._res("v1", "ConfigMap").create(body=body, namespace=self.ns)

    def create_token(self, user: str, name: str, expires: datetime | None, token: str | None = None) -> tuple[str, str]:
        """A new token for `user`: (token id, the token itself, shown once). Only its hash is kept."""
        token_id, token, data = accounts.new_token(user, name, datetime.now(UTC), expires, token)
        self._write(
            lambda: kube.apply(
                self.client,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": accounts.token_secret(token_id),
                        "namespace": self.ns,
                        "labels": accounts.token_labels(user),
                    },
                    "type": accounts.TOKEN_TYPE,
                    "stringData": data,
                },
            )
        )
        return token_id, token

    def delete_token(self, token_id: str) -> None:
        self._write(lambda: self._res("v1", "Secret").delete(name=accounts.token_secret(token_id), namespace=self.ns))

    # Users' own secrets and profiles -----------------------------------------------------------

    def user_secrets(self, user: str) -> list[usersecrets.UserSecret]:
        """The user's secrets, only those the api wrote (see usersecrets.secret_record)."""
        selector = ",".join(f"{k}={v}" for k, v in usersecrets.labels(user).items())
        items = self._res("v1", "Secret").get(namespace=self.ns, label_selector=selector).to_dict()["items"]
        return [r for r in map(usersecrets.secret_record, items) if r is not None and r.user == user]

    def save_user_secret(self, secret: usersecrets.UserSecret) -> None:
        self._write(lambda: kube.apply(self.client, usersecrets.secret_body(self.ns, secret)))

    def delete_user_secret(self, user: str, name: str) -> None:
        self._write(
            lambda: self._res("v1", "Secret").delete(name=usersecrets.secret_object(user, name), namespace=self.ns)
        )

    def mark_secrets_used(self, user: str, secret_names: list[str], when: str) -> None:
        for name in secret_names:
            with contextlib.suppress(NotFound):
                self._write(
                    lambda name=name: self._res("v1", "Secret").patch(
                        name=usersecrets.secret_object(user, name),
                        namespace=self.ns,
                        body={"stringData": {"lastUsed": when}},
                        content_type="application/merge-patch+json",
                    )
                )

    def profile(self, user: str) -> dict[str, str]:
        return usersecrets.profile_of(kube.get(self.client, "v1", "Secret", usersecrets.profile_object(user), self.ns))

    def save_profile(self, user: str, profile: dict[str, str]) -> None:
        self._write(lambda: kube.apply(self.client, usersecrets.profile_body(self.ns, user, profile)))
