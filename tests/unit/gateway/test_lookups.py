"""The shared login reads: one read per key per TTL, however many logins ask at once."""

import threading
import time

import pytest

from gateway.lookups import TtlCache
from tests.unit.gateway.test_limits_activity_settings import Clock


class Reads:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, key: str) -> str | None:
        self.calls.append(key)
        time.sleep(self.delay)
        if self.fail:
            raise OSError("api down")
        return None if key.startswith("no-") else key.upper()


def test_concurrent_misses_share_one_read() -> None:
    reads = Reads(delay=0.2)
    cache = TtlCache(reads, ttl=5)
    got: list[str | None] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("alice"))) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert got == ["ALICE"] * 50 and reads.calls == ["alice"]


def test_entries_expire_after_the_ttl_and_absence_is_cached_but_failures_are_not() -> None:
    clock, reads = Clock(), Reads()
    cache = TtlCache(reads, ttl=5, clock=clock)
    assert cache.get("alice") == "ALICE" and cache.get("no-such") is None
    clock.now += 4.9
    assert cache.get("alice") == "ALICE" and cache.get("no-such") is None
    assert reads.calls == ["alice", "no-such"]
    clock.now += 0.1  # the revocation bound: a changed record is read again
    reads.fail = True
    with pytest.raises(OSError):
        cache.get("alice")
    reads.fail = False
    assert cache.get("alice") == "ALICE" and reads.calls == ["alice", "no-such", "alice", "alice"]
    cache.forget("alice")
    cache.get("alice")
    assert reads.calls[-1] == "alice" and len(reads.calls) == 5


def test_the_table_is_bounded() -> None:
    cache = TtlCache(Reads(), ttl=60, max_entries=3)
    for name in "abcde":
        cache.get(name)
    assert list(cache._entries) == ["c", "d", "e"]
