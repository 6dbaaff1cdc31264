"""`cps1 dev up`'s kept secrets: made once, private, the same on every later start."""

import stat
from pathlib import Path

from cps1 import dev
from hooks.settings import MIN_SEED_LENGTH


def test_dev_up_makes_a_seed_and_admin_token_once(tmp_path: Path) -> None:
    first = dev.kept_secrets(tmp_path / "dev")
    assert len(first["seed"]) >= MIN_SEED_LENGTH
    assert first["admin_token"].startswith("cps1_")
    assert stat.S_IMODE((tmp_path / "dev" / "secrets.json").stat().st_mode) == 0o600
    assert dev.kept_secrets(tmp_path / "dev") == first
    assert dev.kept_secrets(tmp_path / "other")["seed"] != first["seed"]
