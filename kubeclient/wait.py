"""The one poll loop: every wait in CPS1 (for an object, a phase, a node, a port) is built on
`poll`, and the common case of waiting for a check to hold is `wait_for`."""

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def poll(timeout: float, interval: float) -> Iterator[None]:
    """Yield at once, then every `interval` seconds until `timeout` has passed (one last time
    at the deadline or just after). The caller returns when it is satisfied; running off the
    end of the loop means the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(interval, left))


def wait_for(check: Callable[[], T | None], timeout: float, message: str, interval: float = 0.25) -> T:
    """The first true value `check` returns; TimeoutError with `message` (and the last value
    when it says more than False) after `timeout` seconds."""
    last: T | None = None
    for _ in poll(timeout, interval):
        last = check()
        if last:
            return last
    detail = "" if last is None or isinstance(last, bool) else f"; last value: {last!r}"
    raise TimeoutError(f"{message} (after {timeout:.0f}s{detail})")
