"""Users' secrets in real Workspaces on the real node: stored through the api, a secret appears
in the Workspace that names it (env variable, file, Git credential) and in no other, another
user's secret of the same name stays theirs, the api never returns a value and no log holds
one; `git clone` and `git push` over HTTP with the stored token work from the Workspace (a
`git http-backend` behind a token check on the pod's loopback) and fail without it; a removed
secret fails the Workspace with SecretsUnavailable, keeping it running; a new value reaches the
Workspace at its next start."""

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import kubeclient as kube
from common import crd, names
from cps1.dev import import_workspace_images
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.conftest import ROOT
from tests.e2e import secrets_support
from tests.e2e.secrets_support import Api
from tests.support import workspaces as ws
from tests.support.cluster import Env, installed, wait_until
from tests.support.node import kubectl

START_SECONDS = 300
ALICE_KEY = "alice-api-key-9f2c1e"
BOB_KEY = "bob-api-key-77ab03"
NOTES = "alice-notes-file-41d0\n"
GIT_TOKEN = "alice-git-token-c8e5aa"
GIT_PORT = 8765
SERVER = Path(__file__).with_name("git_http_server.py")


@pytest.fixture(scope="module")
def env(real_cluster: LocalCluster) -> Iterator[Env]:
    import_workspace_images(real_cluster)
    with installed(real_cluster, "real-secrets-hook-requests") as env:
        kube.apply(env.client, yaml.safe_load((ROOT / "examples" / "templates" / "python.yaml").read_text()))
        yield env


@pytest.fixture(scope="module")
def users(env: Env) -> dict[str, Api]:
    return secrets_support.users(env, ("alice", "bob"))


def pod_name(env: Env, name: str) -> str:
    pods = kube.resource(env.client, "v1", "Pod").get(namespace=names.namespace_for(name)).to_dict()["items"]
    return str(next(p for p in pods if not p["metadata"].get("deletionTimestamp"))["metadata"]["name"])


def kubectl_argv(env: Env, namespace: str) -> list[str]:
    """kubectl's argv as tests.support.node.kubectl runs it (here to give it stdin)."""
    kubectl_bin = binaries(("kubernetes",))["kubernetes"] / "kubectl"
    return [str(kubectl_bin), f"--kubeconfig={env.cluster.kubeconfig}", "--namespace", namespace]


def exec_in(env: Env, name: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    namespace = names.namespace_for(name)
    return kubectl(env.cluster, namespace, "exec", pod_name(env, name), "-c", "workspace", "--", *command, check=check)


@pytest.fixture(scope="module")
def workspaces(env: Env, users: dict[str, Api]) -> Iterator[dict[str, str]]:
    """alice's Workspace with her three secrets, bob's with his own API_KEY."""
    alice, bob = users["alice"], users["bob"]
    git_host = f"http://127.0.0.1:{GIT_PORT}"
    for api, name, body in (
        (alice, "API_KEY", {"kind": "env", "value": ALICE_KEY}),
        (alice, "notes", {"kind": "file", "value": NOTES}),
        (alice, "gitserver", {"kind": "git-credential", "value": GIT_TOKEN, "host": git_host, "username": "alice"}),
        (bob, "API_KEY", {"kind": "env", "value": BOB_KEY}),
    ):
        status, shown = api("PUT", f"/me/secrets/{name}", body)
        assert status == 200 and body["value"] not in str(shown), shown
    # Dotfiles nobody can reach: the first start says so in the init container's log and goes on.
    profile = {"gitName": "Alice Example", "gitEmail": "alice@example.com", "dotfiles": "https://127.0.0.1:9/dots"}
    assert alice("PUT", "/me/profile", profile)[0] == 200
    created = {"alice": "sec-alice", "bob": "sec-bob"}
    for user, secrets in (("alice", ["API_KEY", "notes", "gitserver"]), ("bob", ["API_KEY"])):
        status, body = users[user](
            "POST", "/workspaces", {"name": created[user], "template": "python", "secrets": secrets}
        )
        assert status == 201, body
    for name in created.values():
        ws.wait_phase(env, name, crd.PHASE_RUNNING, timeout=START_SECONDS)
    yield created
    for name in created.values():
        ws.delete(env, name)
    for name in created.values():
        ws.wait_gone(env, name, timeout=180)


def test_each_workspace_gets_its_owners_secrets_only(env: Env, users: dict[str, Api], workspaces: dict) -> None:
    alice, bob = workspaces["alice"], workspaces["bob"]
    assert exec_in(env, alice, "printenv", "API_KEY").stdout.strip() == ALICE_KEY
    assert exec_in(env, alice, "cat", "/etc/cps1-user/notes").stdout == NOTES
    # SSH login shells do not inherit the container's env: /etc/profile.d gives it to them.
    login = exec_in(env, alice, "env", "-i", "HOME=/home/coder", "bash", "-lc", "printenv API_KEY")
    assert login.stdout.strip() == ALICE_KEY
    assert exec_in(env, bob, "printenv", "API_KEY").stdout.strip() == BOB_KEY
    assert exec_in(env, bob, "test", "-e", "/etc/cps1-user/notes", check=False).returncode != 0
    bob_secrets = kube.resource(env.client, "v1", "Secret").get(namespace=names.namespace_for(bob)).to_dict()["items"]
    copied = [base64.b64decode(v) for secret in bob_secrets for v in (secret.get("data") or {}).values()]
    assert copied and not [v for v in copied if ALICE_KEY.encode() in v]
    identity = exec_in(env, alice, "git", "config", "user.name").stdout.strip()
    assert identity == "Alice Example"
    init_log = kubectl(env.cluster, names.namespace_for(alice), "logs", "deploy/workspace", "-c", "init-home")
    assert "failed; starting without it" in init_log.stdout + init_log.stderr
    listed = users["alice"]("GET", "/me/secrets")[1]["items"]
    assert {s["name"] for s in listed} == {"API_KEY", "notes", "gitserver"}
    assert all(s["lastUsed"] for s in listed)
    assert not {ALICE_KEY, NOTES.strip(), GIT_TOKEN} & set(str(listed).split("'"))


def test_git_clone_and_push_with_the_stored_token(env: Env, workspaces: dict) -> None:
    alice = workspaces["alice"]
    namespace = names.namespace_for(alice)
    copy_in = [*kubectl_argv(env, namespace), "exec", "-i", pod_name(env, alice), "-c", "workspace", "--"]
    subprocess.run(
        [*copy_in, "sh", "-c", "cat > /tmp/git_http_server.py"],
        input=SERVER.read_text(),
        text=True,
        check=True,
        timeout=60,
    )
    exec_in(env, alice, "git", "init", "-q", "--bare", "/tmp/git/repo.git")
    exec_in(
        env,
        alice,
        "sh",
        "-c",
        f"setsid python3 /tmp/git_http_server.py {GIT_PORT} /tmp/git alice {GIT_TOKEN} </dev/null >/tmp/git.log 2>&1 &",
    )
    url = f"http://127.0.0.1:{GIT_PORT}/repo.git"
    wait_until(
        lambda: (
            exec_in(
                env,
                alice,
                "python3",
                "-c",
                f"import socket; socket.create_connection(('127.0.0.1', {GIT_PORT}))",
                check=False,
            ).returncode
            == 0
        ),
        timeout=30,
        what="the git server",
    )
    refused = exec_in(
        env,
        alice,
        "env",
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_TERMINAL_PROMPT=0",
        "git",
        "clone",
        url,
        "/tmp/nocred",
        check=False,
    )
    assert refused.returncode != 0 and "terminal prompts disabled" in refused.stderr
    script = (
        f"set -e; git clone -q {url} /tmp/work && cd /tmp/work && echo hi > README && git add README "
        "&& git commit -qm first && git push -q origin HEAD:main && git log -1 --format='%an <%ae>'"
    )
    pushed = exec_in(env, alice, "env", "GIT_TERMINAL_PROMPT=0", "sh", "-c", script, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == "Alice Example <alice@example.com>"
    assert "first" in exec_in(env, alice, "git", "-C", "/tmp/git/repo.git", "log", "--oneline", "main").stdout
    assert GIT_TOKEN not in exec_in(env, alice, "cat", "/etc/gitconfig").stdout


def test_a_removed_secret_fails_the_workspace_and_keeps_it(env: Env, users: dict[str, Api], workspaces: dict) -> None:
    alice = workspaces["alice"]
    assert users["alice"]("DELETE", "/me/secrets/notes")[0] == 204
    wait_until(
        lambda: ws.condition(env, alice, "Ready").get("reason") == "SecretsUnavailable",
        timeout=90,
        what="SecretsUnavailable",
    )
    assert "notes" in ws.condition(env, alice, "Ready")["message"]
    assert exec_in(env, alice, "cat", "/etc/cps1-user/notes").stdout == NOTES  # still running as it was
    assert users["alice"]("PUT", "/me/secrets/notes", {"kind": "file", "value": NOTES})[0] == 200
    ws.wait_phase(env, alice, crd.PHASE_RUNNING, timeout=120)


def test_a_new_value_reaches_the_workspace_at_its_next_start(env: Env, users: dict[str, Api], workspaces: dict) -> None:
    alice = workspaces["alice"]
    assert users["alice"]("PUT", "/me/secrets/API_KEY", {"kind": "env", "value": ALICE_KEY + "-v2"})[0] == 200
    assert users["alice"]("POST", f"/workspaces/{alice}/stop")[0] == 200
    ws.wait_phase(env, alice, crd.PHASE_STOPPED, timeout=120)
    assert users["alice"]("POST", f"/workspaces/{alice}/start")[0] == 200
    ws.wait_phase(env, alice, crd.PHASE_RUNNING, timeout=START_SECONDS)
    assert exec_in(env, alice, "printenv", "API_KEY").stdout.strip() == ALICE_KEY + "-v2"


def test_no_log_holds_a_value(env: Env, workspaces: dict) -> None:
    """Every log of the run (api server, Metacontroller, hooks, kubelet, containerd, ...)."""
    values = [v.encode() for v in (ALICE_KEY, BOB_KEY, NOTES.strip(), GIT_TOKEN)]
    logs = [p for p in Path(env.cluster.run_dir).rglob("*.log") if p.is_file()]
    assert logs
    leaks = [str(p) for p in logs for v in values if v in p.read_bytes()]
    assert leaks == []
