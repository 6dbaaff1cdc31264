"""Activity: while a Workspace has an open relayed session, record it for the idle policy.

One background thread writes the `cps1.io/last-activity` annotation (source `ssh`) for every
Workspace with open sessions, at most once per `interval` per Workspace whatever the number of
sessions or bytes, so a busy gateway costs the API server one small patch per Workspace per
interval. A session is counted only once it is relayed to a running sshd, so activity writes
never wake a stopped Workspace by themselves.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("cps1.gateway.activity")
# After a failed write, try again this much sooner than a full interval.
RETRY_SECONDS = 5.0


class ActivityRecorder:
    def __init__(
        self,
        write: Callable[[str, datetime], None],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_result: Callable[[bool], None] | None = None,
    ) -> None:
        self.write = write
        self.interval = interval
        self.clock = clock
        self.now = now
        self.on_result = on_result
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def opened(self, workspace: str) -> None:
        with self._lock:
            self._open[workspace] = self._open.get(workspace, 0) + 1
        self._wake.set()

    def closed(self, workspace: str) -> None:
        with self._lock:
            left = self._open.get(workspace, 0) - 1
            if left > 0:
                self._open[workspace] = left
            else:
                self._open.pop(workspace, None)

    def written(self, workspace: str) -> None:
        """Someone else just wrote activity for `workspace` (a start): the next write can wait."""
        with self._lock:
            self._last[workspace] = self.clock()

    def due(self) -> list[str]:
        """Workspaces with open sessions whose last write is at least `interval` old."""
        now = self.clock()
        with self._lock:
            for name, when in list(self._last.items()):
                if name not in self._open and now - when >= self.interval:
                    del self._last[name]
            return sorted(
                name for name in self._open if name not in self._last or now - self._last[name] >= self.interval
            )

    def flush(self) -> int:
        """Write every due Workspace; returns how many writes succeeded."""
        done = 0
        for name in self.due():
            try:
                self.write(name, self.now())
            except Exception as err:  # keep recording other Workspaces whatever one write does
                log.warning("activity write failed", extra={"workspace": name, "error": str(err)})
                with self._lock:
                    self._last[name] = self.clock() - self.interval + RETRY_SECONDS
                if self.on_result:
                    self.on_result(False)
                continue
            with self._lock:
                self._last[name] = self.clock()
            done += 1
            if self.on_result:
                self.on_result(True)
        return done

    def run(self) -> None:
        tick = max(0.2, min(5.0, self.interval / 4))
        while not self._stop.is_set():
            self.flush()
            self._wake.wait(tick)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="activity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)
