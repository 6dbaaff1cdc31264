"""What every request works with: the store, the settings, the clock and the authenticator of
the app it runs in (one object, set by create_app)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from api.identity import Authenticator
from api.settings import Settings
from api.store import Store

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Context:
    store: Store
    settings: Settings
    clock: Clock
    authenticator: Authenticator

    def now(self) -> datetime:
        return self.clock()


def context() -> Context:
    """The context of the app handling this request."""
    return current_app.extensions["cps1"]
