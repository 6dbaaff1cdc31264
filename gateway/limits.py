"""Connection limits, unauthenticated-connection limits (OpenSSH's MaxStartups) and the
per-source authentication-failure limiter.

All are small thread-safe counters with an injectable clock or random source so the unit tests
drive them without sleeping. Memory stays bounded: the failure table forgets old sources and
holds at most `max_sources` of them (an attacker cycling source addresses cannot grow it
without limit). A "source" is an IPv4 address or an IPv6 /64 (`source_of`): one host usually
owns a whole /64, so counting single IPv6 addresses would let it rotate past every limit.
"""

import ipaddress
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.forwarding import CHUNK
from gateway.transport import window_limit

IPV6_SOURCE_PREFIX = 64


def source_of(address: str) -> str:
    """The unit per-source limits count: the IPv4 address, or the IPv6 /64 it belongs to."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_SOURCE_PREFIX}", strict=False))
    return str(ip)


@dataclass(frozen=True)
class MaxStartups:
    """OpenSSH's `MaxStartups start:rate:full`: below `start` unauthenticated connections all
    are accepted; from `start` on a new one is refused with probability `rate`% rising linearly
    to 100% at `full`."""

    start: int
    rate: int
    full: int

    @classmethod
    def parse(cls, text: str) -> "MaxStartups":
        parts = text.split(":")
        try:
            start, rate, full = (int(p) for p in parts) if len(parts) == 3 else (int(text), 100, int(text))
        except ValueError as err:
            raise ValueError(f"max_startups: expected start:rate:full, got {text!r}") from err
        if not (1 <= start <= full and 0 <= rate <= 100):
            raise ValueError(f"max_startups: need 1 <= start <= full and 0 <= rate <= 100, got {text!r}")
        return cls(start, rate, full)

    def refuse_percent(self, startups: int) -> int:
        """The chance in percent that a new connection is refused while `startups`
        unauthenticated ones are open (sshd.c should_drop_connection, integer arithmetic)."""
        if startups < self.start:
            return 0
        if startups >= self.full or self.rate == 100:
            return 100
        return (100 - self.rate) * (startups - self.start) // (self.full - self.start) + self.rate


class Unauthenticated:
    """Connections that have not authenticated yet, in total (MaxStartups) and per source.
    They cost two threads each and nothing proves who holds them, so they are admitted
    sparingly and dropped after a short grace time (gateway/connection.py)."""

    def __init__(
        self, startups: MaxStartups, per_source: int, roll: Callable[[], int] = lambda: random.randrange(100)
    ) -> None:
        self.startups = startups
        self.per_source = per_source
        self.roll = roll
        self._lock = threading.Lock()
        self._total = 0
        self._sources: dict[str, int] = {}

    def admit(self, source: str) -> str:
        """Count a new connection from `source`; '' when admitted, else which limit refused it."""
        with self._lock:
            if self._sources.get(source, 0) >= self.per_source:
                return "startups-per-source"
            if self.roll() < self.startups.refuse_percent(self._total):
                return "startups"
            self._total += 1
            self._sources[source] = self._sources.get(source, 0) + 1
            return ""

    def done(self, source: str) -> None:
        """The connection authenticated or ended."""
        with self._lock:
            if self._sources.get(source):
                self._total -= 1
                _decrement(self._sources, source)

    @property
    def count(self) -> int:
        return self._total


class ConnectionLimits:
    """At most `total` open connections, and `per_user` per authenticated user."""

    def __init__(self, total: int, per_user: int) -> None:
        self.total = total
        self.per_user = per_user
        self._lock = threading.Lock()
        self._open = 0
        self._users: dict[str, int] = {}

    def open(self) -> bool:
        with self._lock:
            if self._open >= self.total:
                return False
            self._open += 1
            return True

    def close(self) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)

    def claim(self, user: str) -> bool:
        """Count one more connection for `user`; False (and nothing counted) at the limit."""
        with self._lock:
            if self._users.get(user, 0) >= self.per_user:
                return False
            self._users[user] = self._users.get(user, 0) + 1
            return True

    def release(self, user: str) -> None:
        with self._lock:
            _decrement(self._users, user)

    @property
    def open_count(self) -> int:
        return self._open

    def user_count(self, user: str) -> int:
        return self._users.get(user, 0)


class AuthFailures:
    """A sliding window of failed authentications per source address."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 10000,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.max_sources = max_sources
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, source: str, now: float) -> deque[float]:
        times = self._failures.get(source)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[source]
        return times

    def record(self, source: str) -> None:
        now = self.clock()
        with self._lock:
            times = self._recent(source, now)
            times.append(now)
            self._failures[source] = times
            self._failures.move_to_end(source)
            while len(self._failures) > self.max_sources:
                self._failures.popitem(last=False)

    def blocked(self, source: str) -> bool:
        """Whether `source` reached the limit within the window."""
        with self._lock:
            return len(self._recent(source, self.clock())) >= self.limit


@dataclass(frozen=True)
class Windows:
    """The receive windows of one relayed channel: granted to the client (`down`) and to the
    Workspace's sshd (`up`)."""

    down: int
    up: int

    @property
    def cost(self) -> int:
        """The most this channel can ever hold in the gateway. Upwards: the client's data
        buffered up to its window (enforced, with OpenSSH's tenth of grace) plus one chunk in
        the pump. Downwards: stdout and stderr share the Workspace's window, plus a chunk in
        each of their pumps. A pump's chunk never exceeds what its buffer held."""
        down, up = window_limit(self.down), window_limit(self.up)
        return down + min(CHUNK, down) + up + 2 * min(CHUNK, up)


class ChannelRefused(Exception):
    """No room for another channel; the text is for the client."""


class ChannelBudget:
    """Every relayed channel reserves its worst-case buffering (`Windows.cost`) from one
    budget, so all channels together never hold more than `budget` bytes whatever their peers
    do. A channel gets full windows while the reservations stay under half the budget and its
    user holds fewer than `full_per_user` of them (so one user cannot take every full window),
    else small windows (slower on long
    round trips, same memory bound), else it is refused. And a user has at most `per_user`
    channels across all their connections."""

    def __init__(self, budget: int, per_user: int, full: Windows, small: Windows, full_per_user: int) -> None:
        self.budget = budget
        self.per_user = per_user
        self.full_per_user = full_per_user
        self.full = full
        self.small = small
        self._lock = threading.Lock()
        self._reserved = 0
        self._channels: dict[str, int] = {}
        self._full: dict[str, int] = {}

    def reserve(self, user: str) -> Windows:
        """The windows for a new channel of `user`, reserved; ChannelRefused says why not."""
        with self._lock:
            if self._channels.get(user, 0) >= self.per_user:
                raise ChannelRefused(f"user {user!r} already has {self.per_user} channels open (the limit)")
            full = self._full.get(user, 0) < self.full_per_user
            if full and self._reserved + self.full.cost <= self.budget // 2:
                windows = self.full
                self._full[user] = self._full.get(user, 0) + 1
            elif self._reserved + self.small.cost <= self.budget:
                windows = self.small
            else:
                raise ChannelRefused("the gateway is at its memory budget; try again shortly")
            self._reserved += windows.cost
            self._channels[user] = self._channels.get(user, 0) + 1
            return windows

    def release(self, user: str, windows: Windows) -> None:
        with self._lock:
            self._reserved -= windows.cost
            _decrement(self._channels, user)
            if windows is self.full:
                _decrement(self._full, user)

    @property
    def reserved(self) -> int:
        return self._reserved

    def channels_of(self, user: str) -> int:
        return self._channels.get(user, 0)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
