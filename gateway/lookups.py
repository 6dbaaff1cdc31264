"""The reads every login makes (its Workspace, its user's account), shared between connections
for a few seconds: the gateway's `Directory` (gateway/auth.py).

A login storm (hundreds of developers and IDE reconnects at once) would otherwise cost the API
server two or three GETs per login, each on the connection's transport thread. Entries live
`ttl` seconds, so a key removed from a user's ConfigMap, a user disabled, or a Workspace deleted,
stops letting new connections in at most `ttl` seconds later (connections a removed key
already authenticated stay, as with sshd; a disabled user's are ended by the gateway's account
check, which reads through this cache: gateway/server.py). Concurrent misses of one key wait for a single read; answers
that an object does not exist are cached too (a scan of made-up names costs one read per name
per `ttl`); failures are not. The table holds at most `max_entries` keys, the oldest forgotten
first.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from gateway.auth import Account
from gateway.routing import WorkspaceView

V = TypeVar("V")
FETCH_WAIT_SECONDS = 30.0


class Reads(Protocol):
    def workspace(self, name: str) -> dict | None: ...

    def user(self, name: str) -> dict | None: ...


class TtlCache(Generic[V]):
    def __init__(
        self,
        fetch: Callable[[str], V],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10000,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}

    def get(self, key: str) -> V:
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and self.clock() - entry[0] < self.ttl:
                    return entry[1]
                pending = self._pending.get(key)
                if pending is None:
                    self._pending[key] = threading.Event()
                    break
            pending.wait(FETCH_WAIT_SECONDS)  # then look again: the read may have failed
        try:
            value = self.fetch(key)
            with self._lock:
                self._entries[key] = (self.clock(), value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key).set()

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class Lookups:
    """Cached Workspace and account reads over the gateway's Kubernetes client."""

    def __init__(self, reads: Reads, ttl: float) -> None:
        def workspace(name: str) -> WorkspaceView | None:
            obj = reads.workspace(name)
            return WorkspaceView.from_object(obj) if obj else None

        self.workspaces: TtlCache[WorkspaceView | None] = TtlCache(workspace, ttl)
        self.accounts: TtlCache[Account | None] = TtlCache(
            lambda user: Account.from_configmap(user, reads.user(user)), ttl
        )

    def workspace(self, name: str) -> WorkspaceView | None:
        return self.workspaces.get(name)

    def account(self, user: str) -> Account | None:
        return self.accounts.get(user)

    def forget(self, workspace: str) -> None:
        self.workspaces.forget(workspace)
