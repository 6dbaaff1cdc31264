"""Who is calling: a bearer token, or a trusted proxy's identity header (the Flask side, and who may
do what, is api/auth.py).

Every well-formed token would otherwise cost an API-server read, so token and user lookups are
cached for a few seconds (a revocation or a disabled user takes effect at once in the process
that made the change, and within TOKEN_CACHE_SECONDS in the others), and failed attempts are
throttled per source address before any lookup.
"""

import hmac
import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.settings import Settings
from api.store import Store, User
from common import accounts
from common.timefmt import parse_time

TOKEN_CACHE_SECONDS = 10.0
CACHE_ENTRIES = 4096


class TtlCache:
    """A small map whose entries expire; the oldest go first when it is full."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, size: int = CACHE_ENTRIES) -> None:
        self.seconds, self.clock, self.size = seconds, clock, size
        self.entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self.entries.get(key)
        if hit and hit[0] > self.clock():
            return hit[1]
        value = load()
        self.entries[key] = (self.clock() + self.seconds, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value

    def drop(self, key: str) -> None:
        self.entries.pop(key, None)


class FailureThrottle:
    """At most `limit` failed authentications per source in `window` seconds; past that the
    source waits, and its requests are refused before any lookup."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic, size: int = CACHE_ENTRIES
    ) -> None:
        self.limit, self.window, self.clock, self.size = limit, window, clock, size
        self.failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, source: str) -> float:
        """Seconds before `source` may try again; 0 when it may now."""
        times = self.failures.get(source)
        if not times:
            return 0.0
        now = self.clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times[0] + self.window - now if len(times) >= self.limit else 0.0

    def failed(self, source: str) -> None:
        self.failures.setdefault(source, deque(maxlen=self.limit)).append(self.clock())
        self.failures.move_to_end(source)
        while len(self.failures) > self.size:
            self.failures.popitem(last=False)


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def client_source(remote: str | None, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The address a request came from: the peer, or the last hop a trusted forwarder (the
    Ingress controller) recorded in X-Forwarded-For."""
    remote = remote or ""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    return hops[-1] if hops and _in(remote, trusted) else remote


@dataclass
class Authenticator:
    store: Store
    settings: Settings
    tokens: TtlCache
    users: TtlCache
    throttle: FailureThrottle

    @classmethod
    def create(cls, store: Store, settings: Settings) -> "Authenticator":
        return cls(
            store,
            settings,
            TtlCache(TOKEN_CACHE_SECONDS),
            TtlCache(TOKEN_CACHE_SECONDS),
            FailureThrottle(settings.max_failed_auth, settings.failed_auth_window_seconds),
        )

    def user(self, name: str) -> User | None:
        """`name` as a user who may act now (exists, not disabled), from the short cache."""
        configmap = self.users.get(name, lambda: self.store.user_configmap(name))
        if configmap is None or accounts.is_disabled(configmap):
            return None
        admin = accounts.is_admin(configmap) or name in self.settings.admins
        return User(name, admin, tuple(accounts.groups_of(configmap)))

    def from_token(self, token: str, now: datetime) -> User | None:
        token_id = accounts.token_id(token)
        if not token_id:
            return None
        record = self.tokens.get(token_id, lambda: accounts.token_record(self.store.token_secret(token_id)))
        if record is None or not accounts.token_matches(token, record.hash):
            return None
        expires = parse_time(record.expires)
        if expires and expires <= now:
            return None
        return self.user(record.user)

    def from_proxy(self, remote: str | None, name: str, secret: str) -> User | None:
        """The identity header counts only from a trusted network *and* with the proxy's secret."""
        settings = self.settings
        if not (
            settings.proxy_user_header and settings.proxy_secret and _in(remote or "", settings.proxy_trusted_networks)
        ):
            return None
        if not hmac.compare_digest(secret.encode(), settings.proxy_secret.encode()):
            return None
        name = name.strip().lower()
        if not name or accounts.user_name_error(name):
            return None
        if self.users.get(name, lambda: self.store.user_configmap(name)) is None:
            self.store.ensure_user(name)
            self.users.drop(name)
        return self.user(name)

    def forget_token(self, token_id: str) -> None:
        self.tokens.drop(token_id)

    def forget_user(self, name: str) -> None:
        self.users.drop(name)
