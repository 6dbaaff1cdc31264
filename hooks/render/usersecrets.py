"""The owner's secrets and Git identity in a Workspace: a per-Workspace copy of the secrets it
names (a Secret child in its namespace) and how the pod sees them.

The customize hook brings in the owner's secrets and profile from the system namespace as
related objects (a cluster-scoped parent may relate objects in any namespace); these pure
functions pick them out, render the copy, and the pod's env variables and mounts:
- env secrets: container env (secretKeyRef) and, for SSH login shells, which do not inherit
  the container's env, /etc/profile.d/cps1-user-secrets.sh reading the mounted files;
- file secrets: /etc/cps1-user/<name>;
- Git credentials: /etc/gitconfig (Git reads it whatever the env) with a credential helper per
  host that prints the token from /etc/cps1-user/git/<name>, and the profile's [user] name
  and email (also GIT_AUTHOR_* and GIT_COMMITTER_* in the env).
The values live only in the copy; no rendered file or env holds one.
"""

import base64
from dataclasses import dataclass
from typing import Any

from common import names, usersecrets
from hooks.model import WorkspaceModel

RELATED_SECRETS = "Secret.v1"
MOUNT_DIR = "/etc/cps1-user"
GITCONFIG = "/etc/gitconfig"
PROFILE_SCRIPT = "/etc/profile.d/cps1-user-secrets.sh"
VOLUME = "user-secrets"


@dataclass(frozen=True)
class UserInputs:
    """What a Workspace receives from its owner: the secrets it names, found, and the profile."""

    secrets: tuple[usersecrets.UserSecret, ...]
    missing: tuple[str, ...]
    profile: dict[str, str]


def related_rule(parent: dict[str, Any], system_namespace: str) -> dict[str, Any] | None:
    """The customize rule bringing in the owner's profile and the secrets the Workspace names."""
    spec = parent.get("spec") or {}
    owner = spec.get("owner")
    if not isinstance(owner, str) or not owner:
        return None
    wanted = [n for n in spec.get("secrets") or [] if isinstance(n, str)]
    objects = [usersecrets.profile_object(owner), *(usersecrets.secret_object(owner, n) for n in wanted)]
    return {"apiVersion": "v1", "resource": "secrets", "namespace": system_namespace, "names": objects}


def inputs(parent: dict[str, Any], related: dict[str, Any], system_namespace: str) -> UserInputs:
    """The owner's secrets the Workspace names (only those the api wrote for that owner) and
    the owner's profile, from the related objects."""
    spec = parent.get("spec") or {}
    owner = str(spec.get("owner") or "")
    found = (related or {}).get(RELATED_SECRETS) or {}

    def obj(name: str) -> Any:
        return found.get(f"{system_namespace}/{name}")

    secrets, missing = [], []
    for name in spec.get("secrets") or []:
        record = usersecrets.secret_record(obj(usersecrets.secret_object(owner, str(name))))
        if record is None or record.user != owner or record.name != name:
            missing.append(str(name))
        else:
            secrets.append(record)
    return UserInputs(tuple(secrets), tuple(missing), usersecrets.profile_of(obj(usersecrets.profile_object(owner))))


def _quoted(text: str) -> str:
    """A git-config value in double quotes (one line; backslash and quote escaped)."""
    one_line = " ".join(text.splitlines())
    return '"' + one_line.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _credential_url(host: str) -> str:
    return host if host.startswith(("http://", "https://")) else f"https://{host}"


def gitconfig(ws: WorkspaceModel) -> str:
    """/etc/gitconfig: the owner's identity and a credential helper per Git host."""
    lines = []
    if ws.git_name or ws.git_email:
        lines.append("[user]")
        lines += [
            f"\t{key} = {_quoted(value)}" for key, value in (("name", ws.git_name), ("email", ws.git_email)) if value
        ]
    for secret in ws.user_secrets:
        if secret.kind != "git-credential":
            continue
        helper = (
            f"!f() {{ test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
            f"'{secret.username or 'git'}' \"$(cat {MOUNT_DIR}/git/{secret.name})\"; }}; f"
        )
        lines += [f'[credential "{_credential_url(secret.host)}"]', f"\thelper = {_quoted(helper)}"]
    return "\n".join(lines) + "\n"


def profile_script(ws: WorkspaceModel) -> str:
    """/etc/profile.d script exporting the env secrets in SSH login shells (names only)."""
    exports = [f'export {s.name}="$(cat {MOUNT_DIR}/env/{s.name})"' for s in ws.user_secrets if s.kind == "env"]
    return "# The Workspace owner's env secrets (rendered by CPS1).\n" + "\n".join(exports) + "\n"


def _key(secret: usersecrets.UserSecret) -> str:
    return {"env": "env.", "file": "file.", "git-credential": "git."}[secret.kind] + secret.name


def _path(secret: usersecrets.UserSecret) -> str:
    return {"env": "env/", "file": "", "git-credential": "git/"}[secret.kind] + secret.name


def wanted(ws: WorkspaceModel) -> bool:
    """Whether the Workspace gets a copy at all (secrets, or a Git identity to configure)."""
    return bool(ws.user_secrets or ws.git_name or ws.git_email)


def render_user_secret(ws: WorkspaceModel) -> dict[str, Any]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    data = {_key(s): b64(s.value) for s in ws.user_secrets}
    data["gitconfig"] = b64(gitconfig(ws))
    data["profile.sh"] = b64(profile_script(ws))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": ws.metadata(names.USER_SECRET, "user-secrets"),
        "type": "Opaque",
        "data": dict(sorted(data.items())),
    }


def volume(ws: WorkspaceModel) -> dict[str, Any]:
    items = [{"key": _key(s), "path": _path(s)} for s in ws.user_secrets]
    items += [{"key": "gitconfig", "path": "gitconfig"}, {"key": "profile.sh", "path": "profile.sh"}]
    return {"name": VOLUME, "secret": {"secretName": names.USER_SECRET, "defaultMode": 0o440, "items": items}}


def mounts() -> list[dict[str, Any]]:
    """The copy's files, /etc/gitconfig and the profile script (read at each start)."""
    return [
        {"name": VOLUME, "mountPath": MOUNT_DIR, "readOnly": True},
        {"name": VOLUME, "mountPath": GITCONFIG, "subPath": "gitconfig", "readOnly": True},
        {"name": VOLUME, "mountPath": PROFILE_SCRIPT, "subPath": "profile.sh", "readOnly": True},
    ]


def env(ws: WorkspaceModel) -> list[dict[str, Any]]:
    """The Git identity and the env secrets as container env variables."""
    out: list[dict[str, Any]] = []
    for role in ("AUTHOR", "COMMITTER"):
        if ws.git_name:
            out.append({"name": f"GIT_{role}_NAME", "value": ws.git_name})
        if ws.git_email:
            out.append({"name": f"GIT_{role}_EMAIL", "value": ws.git_email})
    out += [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": names.USER_SECRET, "key": _key(s)}}}
        for s in ws.user_secrets
        if s.kind == "env"
    ]
    return out
