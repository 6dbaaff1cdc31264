"""The console's configuration, read from CPS1_CONSOLE_* variables at every script run (cheap,
and a test can change it without restarting anything)."""

import dataclasses
from dataclasses import dataclass

from common import envconfig


@dataclass(frozen=True)
class Settings:
    # The Workspace API, the console's only backend.
    api_url: str = "http://127.0.0.1:8080"
    # When the console sits behind an authenticating proxy (oauth2-proxy style), the header that
    # carries the user's name. The console forwards it to the API, which must name the same
    # header (CPS1_API_PROXY_USER_HEADER) and trust the console's address. Off when empty.
    proxy_user_header: str = ""
    # How often live tables refresh, in seconds.
    refresh_seconds: float = 5.0
    # Per API request, in seconds.
    timeout_seconds: float = 15.0

    @classmethod
    def from_env(cls, prefix: str = "CPS1_CONSOLE_", environ: dict[str, str] | None = None) -> "Settings":
        """Settings from CPS1_CONSOLE_* variables (common/envconfig.py, as every component)."""
        read = cls(**envconfig.values_from_env(cls, prefix, environ))
        return dataclasses.replace(
            read, api_url=read.api_url.rstrip("/"), proxy_user_header=read.proxy_user_header.strip()
        )
