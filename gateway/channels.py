"""The channels of one connection: the registry that keeps them referenced, their windows from
the gateway's buffer budget, their session state and relays, and what the audit line reports.

Paramiko closes a server channel nobody references, so every accepted channel is held here
until it is closed. Thread-safe: the transport thread, the connection's thread and relay
workers all touch it.
"""

import threading
from collections import Counter
from collections.abc import Callable

import paramiko

from gateway.forwarding import Pair
from gateway.limits import Windows
from gateway.session import Session

MAX_AUDITED_FORWARDS = 20


class Channels:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[int, paramiko.Channel] = {}
        # The windows each channel reserved from the gateway's buffer budget, by channel id.
        self._grants: dict[int, Windows] = {}
        self._sessions: dict[int, Session] = {}
        self._pairs: set[Pair] = set()
        # direct-tcpip opens being answered by a worker: they count as live channels.
        self._opening = 0
        # For the audit line: relayed channels by kind, and forward destinations.
        self.kinds: Counter[str] = Counter()
        self.forwards: set[str] = set()

    def add(self, chan: paramiko.Channel, windows: Windows | None = None) -> None:
        with self._lock:
            self._channels[chan.get_id()] = chan
            if windows is not None:
                self._grants[chan.get_id()] = windows

    def grant(self, chanid: int, windows: Windows) -> None:
        """Windows reserved for a channel Paramiko is about to confirm."""
        with self._lock:
            self._grants[chanid] = windows

    def windows(self, chanid: int) -> Windows | None:
        with self._lock:
            return self._grants.get(chanid)

    def session(self, chan: paramiko.Channel, create: Callable[[], Session]) -> Session:
        """The session state of a channel, created at its first request."""
        with self._lock:
            found = self._sessions.get(chan.get_id())
            if found is None:
                found = self._sessions[chan.get_id()] = create()
                self._channels[chan.get_id()] = chan
            return found

    def opening(self) -> None:
        with self._lock:
            self._opening += 1

    def opened(self) -> None:
        with self._lock:
            self._opening -= 1

    @property
    def pending(self) -> int:
        return self._opening

    def live(self) -> int:
        with self._lock:
            return sum(1 for ch in self._channels.values() if not ch.closed) + self._opening

    def prune(self) -> list[Windows]:
        """Forget closed channels; their windows, to give back to the budget."""
        freed = []
        with self._lock:
            for chanid in [i for i, ch in self._channels.items() if ch.closed]:
                del self._channels[chanid]
                self._sessions.pop(chanid, None)
                windows = self._grants.pop(chanid, None)
                if windows is not None:
                    freed.append(windows)
        return freed

    def forward(self, destination: str) -> None:
        with self._lock:
            if len(self.forwards) < MAX_AUDITED_FORWARDS:
                self.forwards.add(destination)

    def track(self, pair: Pair, kind: str) -> None:
        with self._lock:
            self.kinds[kind] += 1
            self._pairs.add(pair)

    def untrack(self, pair: Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def pairs(self) -> list[Pair]:
        with self._lock:
            return list(self._pairs)

    def release_all(self) -> list[Windows]:
        """Every window still reserved (the connection ended)."""
        with self._lock:
            grants, self._grants = list(self._grants.values()), {}
        return grants
