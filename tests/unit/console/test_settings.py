"""The console reads CPS1_CONSOLE_* through common/envconfig.py like every other component."""

import pytest

from console.settings import Settings


def test_console_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        environ={
            "CPS1_CONSOLE_API_URL": "http://127.0.0.1:9000/",
            "CPS1_CONSOLE_PROXY_USER_HEADER": " X-Forwarded-User ",
            "CPS1_CONSOLE_REFRESH_SECONDS": "2.5",
        }
    )
    assert settings == Settings("http://127.0.0.1:9000", "X-Forwarded-User", 2.5, Settings.timeout_seconds)
    assert Settings.from_env(environ={}) == Settings()


def test_console_settings_name_the_unreadable_variable() -> None:
    with pytest.raises(ValueError, match="CPS1_CONSOLE_TIMEOUT_SECONDS"):
        Settings.from_env(environ={"CPS1_CONSOLE_TIMEOUT_SECONDS": "soon"})
