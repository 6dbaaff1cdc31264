"""The Workspace sshd's configuration as the image renders it (images/workspace/cps1-sshd-config
from sshd_config.in), checked by OpenSSH's own `sshd -t`, and the loopback tier's additions on
top of the same file."""

import subprocess
from pathlib import Path

import pytest

from tests.support import gateway as gs

IMAGE = Path(__file__).resolve().parents[3] / "images" / "workspace"


def effective(config: Path) -> dict[str, list[str]]:
    """`sshd -T`: what sshd would really use, keyword -> values (first-wins already applied)."""
    out = subprocess.run([gs.SSHD, "-T", "-f", str(config)], check=True, capture_output=True, text=True).stdout
    values: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value)
    return values


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd -t wants its privilege-separation dir
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key")], check=True)
    (tmp_path / "authorized_keys").write_text("")
    return tmp_path


def test_the_images_configuration_is_valid_and_strict(secret_dir: Path) -> None:
    config = secret_dir / "sshd_config"
    config.write_text(gs.workspace_sshd_config(secret_dir, secret_dir, 2222, "0.0.0.0"))
    subprocess.run([gs.SSHD, "-t", "-f", str(config)], check=True)
    seen = effective(config)
    assert seen["port"] == ["2222"]
    assert seen["authorizedkeysfile"] == [f"{secret_dir}/authorized_keys"]
    assert seen["passwordauthentication"] == ["no"] and seen["kbdinteractiveauthentication"] == ["no"]
    assert seen["permitrootlogin"] == ["no"]
    assert seen["acceptenv"] == ["LANG", "LC_*", "TERM", "COLORTERM"]
    assert seen["subsystem"] == ["sftp internal-sftp"]


def test_the_image_renders_it_with_the_same_script() -> None:
    start = (IMAGE / "cps1-workspace-start").read_text()
    dockerfile = (IMAGE / "Dockerfile").read_text()
    assert 'cps1-sshd-config >"$run/sshd_config"' in start and "sshd_config" not in start.split("cps1-sshd-config")[0]
    assert "images/workspace/sshd_config.in /usr/local/share/cps1/" in dockerfile
    assert "images/workspace/cps1-sshd-config" in dockerfile


def test_the_loopback_tier_only_adds_what_it_says(secret_dir: Path) -> None:
    config = secret_dir / "sshd_config"
    config.write_text(
        gs.LOOPBACK_FIRST.format(dir=secret_dir, home=secret_dir / "home")
        + gs.workspace_sshd_config(secret_dir, secret_dir, 2222, "127.0.0.1")
        + gs.LOOPBACK_AFTER
    )
    subprocess.run([gs.SSHD, "-t", "-f", str(config)], check=True)
    seen = effective(config)
    image = secret_dir / "image_config"
    image.write_text(gs.workspace_sshd_config(secret_dir, secret_dir, 2222, "127.0.0.1"))
    baseline = effective(image)
    changed = {key for key in seen.keys() | baseline.keys() if seen.get(key) != baseline.get(key)}
    assert changed == {"permitrootlogin", "authorizedkeysfile", "setenv", "maxstartups", "maxsessions", "loglevel"}
    assert seen["acceptenv"] == baseline["acceptenv"]
