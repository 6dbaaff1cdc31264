"""The owner's secrets and Git identity in a Workspace: picked from the related objects the
customize hook asked for, copied into the Workspace's namespace, and seen by the pod as env
variables, files and a Git credential helper; a missing one fails the Workspace, keeping it."""

import base64
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common import usersecrets
from hooks.reconcile import workspace
from tests.unit.hooks.factories import NOW, SETTINGS, children_map, converged, parent, related, stored

VALUE = "tok-5ecret"


def _stored(body: dict) -> dict:
    """A Secret as the API server returns it (stringData folded into base64 data)."""
    data = {k: base64.b64encode(v.encode()).decode() for k, v in body.pop("stringData").items()}
    return {**body, "data": data}


def owner_objects(user: str = "alice", profile: dict | None = None, **secrets: tuple) -> dict:
    """The related map of `user`'s secrets (name=(kind, value[, host])) and profile."""
    objs = {}
    for name, (kind, value, *host) in secrets.items():
        record = usersecrets.UserSecret(user, name, kind, value, "2026-11-22T10:00:00Z", host=host[0] if host else "")
        body = _stored(usersecrets.secret_body("cps1-system", record))
        objs[f"cps1-system/{body['metadata']['name']}"] = body
    if profile:
        body = _stored(usersecrets.profile_body("cps1-system", user, profile))
        objs[f"cps1-system/{body['metadata']['name']}"] = body
    return {"Secret.v1": objs}


def child(answer: Mapping[str, Any], kind: str, name: str) -> dict:
    return next(c for c in answer["children"] if c["kind"] == kind and c["metadata"]["name"] == name)


def decoded(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_named_secrets_are_copied_and_seen_as_env_files_and_git_config(python_template: dict) -> None:
    objs = owner_objects(
        profile={"gitName": "Alice A", "gitEmail": "alice@example.com", "dotfiles": "https://git.example/dots"},
        NPM_TOKEN=("env", VALUE),
        kubeconfig=("file", "apiVersion: v1\n"),
        gh=("git-credential", VALUE, "github.com"),
        UNNAMED=("env", "not-for-this-workspace"),
    )
    answer, _ = converged(parent(secrets=["NPM_TOKEN", "kubeconfig", "gh"]), python_template, more_related=objs)
    copy = decoded(child(answer, "Secret", "user-secrets"))
    assert copy["env.NPM_TOKEN"] == VALUE and copy["file.kubeconfig"] == "apiVersion: v1\n"
    assert copy["git.gh"] == VALUE and "not-for-this-workspace" not in str(copy)
    assert '[credential "https://github.com"]' in copy["gitconfig"] and VALUE not in copy["gitconfig"]
    assert 'export NPM_TOKEN="$(cat /etc/cps1-user/env/NPM_TOKEN)"' in copy["profile.sh"]
    pod = child(answer, "Deployment", "workspace")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["NPM_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "user-secrets", "key": "env.NPM_TOKEN"}
    assert env["GIT_AUTHOR_NAME"]["value"] == env["GIT_COMMITTER_NAME"]["value"] == "Alice A"
    assert env["GIT_AUTHOR_EMAIL"]["value"] == "alice@example.com"
    assert "UNNAMED" not in env and VALUE not in str(pod)
    paths = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {"/etc/cps1-user", "/etc/gitconfig", "/etc/profile.d/cps1-user-secrets.sh"} <= paths
    init = pod["initContainers"][0]
    assert "/etc/gitconfig" in {m["mountPath"] for m in init["volumeMounts"]}
    assert {"name": "CPS1_DOTFILES", "value": "https://git.example/dots"} in init["env"]


def test_another_users_secret_of_the_same_name_is_not_received(python_template: dict) -> None:
    objs = owner_objects("bob", NPM_TOKEN=("env", VALUE))
    previous, children = converged(parent(), python_template)
    ws = {**parent(secrets=["NPM_TOKEN"]), "status": previous["status"]}
    answer = workspace.sync(ws, children, {**related(python_template), **objs}, now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] == "Failed"
    ready = next(c for c in answer["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "SecretsUnavailable" and "NPM_TOKEN" in ready["message"]
    # Nothing is lost: every child stays as last applied.
    assert len(answer["children"]) == sum(len(v) for v in children.values())
    assert VALUE not in str(answer)


def test_a_workspace_without_secrets_or_profile_gets_no_copy(python_template: dict) -> None:
    answer, _ = converged(parent(), python_template, more_related=owner_objects(NPM_TOKEN=("env", VALUE)))
    assert all(c["metadata"]["name"] != "user-secrets" for c in answer["children"])
    assert VALUE not in str(answer)


def test_the_pod_waits_for_the_copy(python_template: dict) -> None:
    objs = owner_objects(NPM_TOKEN=("env", VALUE))
    ws = parent(secrets=["NPM_TOKEN"])
    answer, _ = converged(ws, python_template, more_related=objs)
    without_copy = [
        stored(c) for c in answer["children"] if (c["kind"], c["metadata"]["name"]) != ("Secret", "user-secrets")
    ]
    without_copy = [c for c in without_copy if c["kind"] != "Deployment"]
    again = workspace.sync(
        ws, children_map(without_copy), {**related(python_template), **objs}, now=NOW, settings=SETTINGS
    )
    assert "Deployment" not in {c["kind"] for c in again["children"]}


def test_the_credential_helper_answers_git_with_the_token(tmp_path: Path, python_template: dict) -> None:
    """The rendered /etc/gitconfig, read by the real git: `git credential fill` prints the
    token for the stored host only."""
    objs = owner_objects(gh=("git-credential", VALUE, "http://git.local:8080"))
    answer, _ = converged(parent(secrets=["gh"]), python_template, more_related=objs)
    copy = decoded(child(answer, "Secret", "user-secrets"))
    token_dir = tmp_path / "git"
    token_dir.mkdir()
    (token_dir / "gh").write_text(copy["git.gh"])
    config = tmp_path / "gitconfig"
    config.write_text(copy["gitconfig"].replace("/etc/cps1-user", str(tmp_path)))
    env = {
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "PATH": "/usr/bin:/bin",
    }

    def fill(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "credential", "fill"], input=f"url={url}\n\n", env=env, capture_output=True, text=True, check=False
        )

    assert f"password={VALUE}" in fill("http://git.local:8080/alice/repo.git").stdout
    assert VALUE not in fill("https://github.com/alice/repo.git").stdout
