"""Users' secrets through the real api, Metacontroller and hooks on the local control plane:
the customize hook relates the owner's secrets from the system namespace, the sync hook copies
exactly the named ones into each Workspace's namespace (another user's secret of the same name
stays theirs), the copy's Git credential helper lets the real `git` clone and push over HTTP
to a token-checking `git http-backend` (and without it git is refused), a removed secret fails
the Workspace with SecretsUnavailable keeping its children, a new value reaches the copy; the
api never returns a value and no log of the run holds one. tests/e2e/test_real_secrets.py runs
the same in real pods on the real node."""

import base64
import functools
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import kubeclient as kube
from common import names
from cps1.localcluster.processes import free_port
from tests.e2e import secrets_support
from tests.e2e.secrets_support import Api
from tests.support import workspaces as ws
from tests.support.cluster import Env, wait_until

ALICE_KEY = "alice-api-key-5e1d77"
BOB_KEY = "bob-api-key-0c4a91"
NOTES = "alice-notes-file-b3f2\n"
GIT_TOKEN = "alice-git-token-9a7c20"
SERVER = Path(__file__).with_name("git_http_server.py")


@pytest.fixture(scope="module")
def users(env: Env) -> dict[str, Api]:
    return secrets_support.users(env, ("secalice", "secbob"))


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`git http-backend` behind a token check on loopback: (its URL, its repositories)."""
    root = tmp_path_factory.mktemp("git-server")
    subprocess.run(["git", "init", "-q", "--bare", str(root / "repo.git")], check=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), str(port), str(root), "secalice", GIT_TOKEN])
    try:
        wait_until(lambda: _listening(port), timeout=10, what="the git server")
        yield f"http://127.0.0.1:{port}", root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def copy_of(env: Env, workspace: str) -> dict[str, str] | None:
    secret = kube.get(env.client, "v1", "Secret", names.USER_SECRET, names.namespace_for(workspace))
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()} if secret else None


@pytest.fixture(scope="module")
def workspaces(env: Env, users: dict[str, Api], git_server: tuple[str, Path]) -> Iterator[dict[str, str]]:
    """secalice's Workspace naming her three secrets, one of hers naming none, secbob's naming
    his own API_KEY; all stopped (the copies do not need pods)."""
    alice, bob = users["secalice"], users["secbob"]
    for api, name, body in (
        (alice, "API_KEY", {"kind": "env", "value": ALICE_KEY}),
        (alice, "notes", {"kind": "file", "value": NOTES}),
        (
            alice,
            "gitserver",
            {"kind": "git-credential", "value": GIT_TOKEN, "host": git_server[0], "username": "secalice"},
        ),
        (bob, "API_KEY", {"kind": "env", "value": BOB_KEY}),
    ):
        status, shown = api("PUT", f"/me/secrets/{name}", body)
        assert status == 200 and body["value"] not in str(shown), shown
    assert alice("PUT", "/me/profile", {"gitName": "Alice Sec", "gitEmail": "alice@example.com"})[0] == 200
    ws.template(env, "sec-python")
    created = {"alice": "sec-alice", "plain": "sec-alice-plain", "bob": "sec-bob"}
    for api, name, secrets in (
        (alice, created["alice"], ["API_KEY", "notes", "gitserver"]),
        (alice, created["plain"], []),
        (bob, created["bob"], ["API_KEY"]),
    ):
        status, body = api(
            "POST", "/workspaces", {"name": name, "template": "sec-python", "running": False, "secrets": secrets}
        )
        assert status == 201, body
    for name in created.values():
        wait_until(functools.partial(copy_of, env, name), timeout=90, what=f"the copy in {name}")
    yield created
    for name in created.values():
        ws.delete(env, name)


def test_each_workspace_gets_exactly_its_owners_named_secrets(env: Env, workspaces: dict[str, str]) -> None:
    alice = copy_of(env, workspaces["alice"]) or {}
    assert alice["env.API_KEY"] == ALICE_KEY and alice["file.notes"] == NOTES and alice["git.gitserver"] == GIT_TOKEN
    assert (copy_of(env, workspaces["bob"]) or {})["env.API_KEY"] == BOB_KEY
    plain = copy_of(env, workspaces["plain"]) or {}
    assert set(plain) == {"gitconfig", "profile.sh"} and "Alice Sec" in plain["gitconfig"]
    for name in (workspaces["bob"], workspaces["plain"]):
        held = str(kube.resource(env.client, "v1", "Secret").get(namespace=names.namespace_for(name)).to_dict())
        assert not [v for v in (ALICE_KEY, GIT_TOKEN) if base64.b64encode(v.encode()).decode() in held]
    deployment = functools.partial(ws.child, env, workspaces["alice"], "apps/v1", "Deployment", "workspace")
    pod = wait_until(deployment, timeout=60, what="the Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {"/etc/cps1-user", "/etc/gitconfig", "/etc/profile.d/cps1-user-secrets.sh"} <= mounts
    assert ALICE_KEY not in str(pod)


def test_the_copied_credential_lets_git_clone_and_push(
    env: Env, workspaces: dict[str, str], git_server: tuple[str, Path], tmp_path: Path
) -> None:
    """The real git with the copy's /etc/gitconfig (its paths moved under tmp_path)."""
    copy = copy_of(env, workspaces["alice"]) or {}
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / "gitserver").write_text(copy["git.gitserver"])
    config = tmp_path / "gitconfig"
    config.write_text(copy["gitconfig"].replace("/etc/cps1-user", str(tmp_path)))
    url = f"{git_server[0]}/repo.git"
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    refused = subprocess.run(
        ["git", "clone", url, str(tmp_path / "no")], env=base, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0 and "terminal prompts disabled" in refused.stderr
    with_helper = {**base, "GIT_CONFIG_GLOBAL": str(config)}
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", url, str(work)], env=with_helper, check=True)
    (work / "README").write_text("hi\n")
    for step in (["add", "README"], ["commit", "-qm", "first"], ["push", "-q", "origin", "HEAD:main"]):
        subprocess.run(["git", "-C", str(work), *step], env=with_helper, check=True)
    log = subprocess.run(
        ["git", "-C", str(git_server[1] / "repo.git"), "log", "--format=%an <%ae> %s", "main"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.strip() == "Alice Sec <alice@example.com> first"


def test_a_removed_secret_fails_the_workspace_keeping_its_copy(
    env: Env, users: dict[str, Api], workspaces: dict[str, str]
) -> None:
    alice = users["secalice"]
    name = workspaces["alice"]
    assert alice("DELETE", "/me/secrets/notes")[0] == 204
    wait_until(
        lambda: ws.condition(env, name, "Ready").get("reason") == "SecretsUnavailable",
        timeout=90,
        interval=1,
        what="SecretsUnavailable",
    )
    assert "notes" in ws.condition(env, name, "Ready")["message"]
    assert (copy_of(env, name) or {}).get("file.notes") == NOTES  # kept as last applied
    assert alice("PUT", "/me/secrets/notes", {"kind": "file", "value": NOTES})[0] == 200
    wait_until(
        lambda: ws.condition(env, name, "Ready").get("reason") != "SecretsUnavailable",
        timeout=90,
        interval=1,
        what="recovery",
    )


def test_a_new_value_reaches_the_copy(env: Env, users: dict[str, Api], workspaces: dict[str, str]) -> None:
    assert users["secalice"]("PUT", "/me/secrets/API_KEY", {"kind": "env", "value": ALICE_KEY + "-v2"})[0] == 200
    wait_until(
        lambda: (copy_of(env, workspaces["alice"]) or {}).get("env.API_KEY") == ALICE_KEY + "-v2",
        timeout=90,
        interval=1,
        what="the new value",
    )


def test_the_api_never_returns_a_value_and_no_log_holds_one(
    env: Env, users: dict[str, Api], workspaces: dict[str, str]
) -> None:
    status, listed = users["secalice"]("GET", "/me/secrets")
    assert status == 200 and {s["name"] for s in listed["items"]} == {"API_KEY", "notes", "gitserver"}
    assert all(s["lastUsed"] == "" for s in listed["items"])  # created stopped: never handed out
    values = [v.encode() for v in (ALICE_KEY, BOB_KEY, NOTES.strip(), GIT_TOKEN)]
    assert not [v for v in values if v in str(listed).encode()]
    logs = [p for p in Path(env.cluster.run_dir).rglob("*.log") if p.is_file()]
    assert logs
    assert [str(p) for p in logs for v in values if v in p.read_bytes()] == []
