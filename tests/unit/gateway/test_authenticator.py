"""The Authenticator on its own: a Paramiko client against a GatewayTransport joined by a socket
pair (no network), answering from an in-memory directory of our own.

Checks who may enter (owner keys, a Workspace's own keys), what a client reads when denied
before and after proving its key, disabled users, forged signatures, connection slots, and a
directory that cannot answer.
"""

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import paramiko
import pytest

from gateway import keys
from gateway.auth import Account, Authenticator, revocation
from gateway.cluster import ClusterError
from gateway.interface import Interface
from gateway.limits import AuthFailures, ConnectionLimits
from gateway.metrics import Metrics
from gateway.routing import WorkspaceView
from gateway.transport import GatewayTransport, Tuning
from tests.unit.gateway.test_auth import ForgedKey, eventually

HOST_KEY = keys.load_private_key(keys.generate_ed25519())
ALICE = keys.load_private_key(keys.generate_ed25519())
BOB = keys.load_private_key(keys.generate_ed25519())
EXTRA = keys.load_private_key(keys.generate_ed25519())
GENERIC = "permission denied: the key"


@dataclass
class MemoryDirectory:
    """Workspaces and accounts held in dictionaries; `down` makes every read fail as an
    unreachable API server would."""

    workspaces: dict[str, WorkspaceView] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    down: bool = False
    forgotten: list[str] = field(default_factory=list)
    # The threads the reads ran on.
    readers: list[str] = field(default_factory=list)

    def workspace(self, name: str) -> WorkspaceView | None:
        self.readers.append(threading.current_thread().name)
        if self.down:
            raise ClusterError("the gateway cannot reach the cluster right now; try again shortly")
        return self.workspaces.get(name)

    def account(self, user: str) -> Account | None:
        self.readers.append(threading.current_thread().name)
        if self.down:
            raise ClusterError("the gateway cannot reach the cluster right now; try again shortly")
        return self.accounts.get(user)

    def forget(self, workspace: str) -> None:
        self.forgotten.append(workspace)


def directory() -> MemoryDirectory:
    return MemoryDirectory(
        workspaces={
            "api": WorkspaceView("api", "alice", True, "Running", extra_keys=(keys.public_line(EXTRA),)),
            "web": WorkspaceView("web", "bob", True, "Running"),
        },
        accounts={
            "alice": Account("alice", (keys.public_line(ALICE),)),
            "bob": Account("bob", (keys.public_line(BOB),), disabled=True),
        },
    )


@dataclass
class Served:
    client: paramiko.Transport
    auth: Authenticator
    limits: ConnectionLimits
    failures: AuthFailures

    def login(self, username: str, key: paramiko.PKey) -> bool:
        try:
            self.client.auth_publickey(username, key)
        except paramiko.AuthenticationException:
            return False
        return self.client.is_authenticated()

    def banner(self) -> str:
        found = self.client.get_banner()
        return found.decode() if isinstance(found, bytes) else str(found or "")


@pytest.fixture
def serve() -> Iterator:
    """Start a server transport whose authentication is an Authenticator over `found`."""
    transports: list[paramiko.Transport] = []

    def start(found: MemoryDirectory, limits: ConnectionLimits | None = None, max_tries: int = 6) -> Served:
        a, b = socket.socketpair()
        server = GatewayTransport(b, Tuning())
        server.add_server_key(HOST_KEY)
        limits, failures = limits or ConnectionLimits(100, 5), AuthFailures(100, 60)
        auth = Authenticator(
            found,
            limits=limits,
            failures=failures,
            metrics=Metrics(),
            source_key="192.0.2.7",
            max_tries=max_tries,
            send_banner=server.send_banner,
        )
        server.auth_result = auth.auth_result
        ready = threading.Event()

        def run() -> None:
            server.start_server(event=ready, server=Interface(auth, None))  # type: ignore[arg-type]  # no connection: only auth is exercised

        threading.Thread(target=run, daemon=True).start()
        client = paramiko.Transport(a)
        client.start_client(timeout=10)
        transports.extend([client, server])
        return Served(client, auth, limits, failures)

    yield start
    for t in transports:
        t.close()


def test_the_owners_key_enters_and_claims_one_slot(serve) -> None:
    served = serve(directory())
    assert served.login("api", ALICE)
    identity = served.auth.identity
    assert identity is not None
    assert (identity.user, identity.via, identity.login.workspace) == ("alice", "owner-key", "api")
    assert identity.key_fingerprint == keys.offered(ALICE).fingerprint
    assert served.limits.user_count("alice") == 1
    served.auth.release()
    assert served.limits.user_count("alice") == 0


def test_a_workspaces_own_key_enters_as_its_owner(serve) -> None:
    served = serve(directory())
    assert served.login("alice+api", EXTRA)
    assert served.auth.identity is not None and served.auth.identity.via == "workspace-key"


@pytest.mark.parametrize(
    ("username", "key", "code"),
    [
        ("nothing", ALICE, "unknown-workspace"),
        ("api", BOB, "key-not-allowed"),
        ("bob+api", BOB, "no-access"),
        # bob is disabled, but that is told only to whoever proves one of bob's keys.
        ("web", ALICE, "key-not-allowed"),
    ],
)
def test_denials_before_a_proven_key_read_the_same(serve, username: str, key: paramiko.PKey, code: str) -> None:
    served = serve(directory())
    assert not served.login(username, key)
    assert served.auth.denials == [code]
    assert served.banner().startswith(f"cps1: {GENERIC} {keys.offered(key).fingerprint} may not open {username!r}")
    assert served.auth.identity is None
    assert len(served.failures._failures["192.0.2.7"]) == 1


def test_a_disabled_user_is_told_after_proving_the_key_and_claims_nothing(serve) -> None:
    served = serve(directory())
    assert not served.login("web", BOB)
    assert served.auth.denials == ["user-disabled"]
    assert served.banner() == "cps1: user 'bob' is disabled by an admin; ask an admin to enable the account\r\n"
    assert served.limits.user_count("bob") == 0
    assert served.auth.identity is None


def test_a_forged_signature_of_the_owners_key_is_a_failure(serve) -> None:
    served = serve(directory())
    assert not served.login("api", ForgedKey(ALICE))
    assert served.auth.denials == ["bad-signature"]
    assert served.limits.user_count("alice") == 0
    assert served.banner().startswith(f"cps1: {GENERIC}")


def test_the_users_connection_limit_is_told_after_the_proof(serve) -> None:
    found, limits = directory(), ConnectionLimits(100, 1)
    first = serve(found, limits)
    assert first.login("api", ALICE)
    second = serve(found, limits)
    assert not second.login("api", ALICE)
    assert second.auth.denials == ["connection-limit"]
    assert "already has 1 connections open" in second.banner()


def test_a_directory_that_cannot_answer_says_so(serve) -> None:
    served = serve(MemoryDirectory(down=True))
    assert not served.login("api", ALICE)
    assert served.auth.denials == ["cluster-unavailable"]
    assert "try again shortly" in served.banner()


def test_a_malformed_login_and_too_many_tries(serve) -> None:
    served = serve(directory(), max_tries=2)
    assert not served.login("Not_A_Name", ALICE)
    assert served.auth.denials == ["invalid-login"]
    assert "invalid login" in served.banner()
    assert not served.login("Not_A_Name", ALICE)
    assert not served.login("Not_A_Name", ALICE)  # past max_tries: refused before any lookup
    assert served.auth.denials == ["invalid-login", "invalid-login", "rate-limited"]


def test_the_reads_start_on_a_worker_at_the_first_request(serve) -> None:
    """OpenSSH asks "none" first: the gateway answers at once and reads the Workspace and its
    owner's account on a worker, not on the transport thread."""
    found = directory()
    served = serve(found)
    with pytest.raises(paramiko.BadAuthenticationType):
        served.client.auth_none("api")
    assert eventually(lambda: len(found.readers) == 2)  # no other request needed
    assert found.readers == ["auth-prefetch", "auth-prefetch"]
    assert served.login("api", ALICE)


def test_a_malformed_login_is_explained_at_the_first_request(serve) -> None:
    found = directory()
    served = serve(found)
    with pytest.raises(paramiko.BadAuthenticationType):
        served.client.auth_none("Not_A_Name")
    assert "invalid login 'Not_A_Name'" in served.banner()
    assert found.readers == [] and served.auth.denials == []


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        (Account("alice", (keys.public_line(ALICE),)), ""),
        (Account("alice"), ""),  # every key removed: open connections stay, as with sshd
        (Account("alice", (keys.public_line(ALICE),), disabled=True), "user-disabled"),
        (None, "user-deleted"),
    ],
)
def test_open_connections_end_when_their_user_is_disabled_or_deleted(account: Account | None, reason: str) -> None:
    assert revocation(account) == reason
