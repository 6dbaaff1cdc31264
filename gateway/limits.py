"""Connection limits and the per-source authentication-failure limiter.

Both are small thread-safe counters with an injectable clock so the unit tests drive them
without sleeping. Memory stays bounded: the failure table forgets old sources and holds at most
`max_sources` of them (an attacker cycling source addresses cannot grow it without limit).
"""

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


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
            left = self._users.get(user, 0) - 1
            if left > 0:
                self._users[user] = left
            else:
                self._users.pop(user, None)

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
