"""The image recipes (there is no Docker engine here to build them): pinned bases, non-root users,
sources that exist, scripts that parse, and the services image's dependencies pinned."""

import re
import subprocess
from pathlib import Path

import dockerfile
import pytest

from tests.conftest import ROOT

IMAGES = sorted((ROOT / "images").glob("*/Dockerfile"))


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.parent.name)
def test_dockerfile_is_pinned_non_root_and_complete(path: Path) -> None:
    commands = dockerfile.parse_file(str(path))
    bases = [c.value[0] for c in commands if c.cmd == "FROM"]
    for base in bases:
        assert re.search(r":\d[\w.-]*$", base.split(" ")[0]), f"{base}: pin the base image by version"
    final_stage = commands[max(i for i, c in enumerate(commands) if c.cmd == "FROM") :]
    users = [c.value[0] for c in final_stage if c.cmd == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), "the final stage runs as a numeric non-root user"
    for copy in (c for c in commands if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags)):
        for source in copy.value[:-1]:
            assert (ROOT / source).exists(), f"{path}: COPY {source} does not exist"


@pytest.mark.parametrize("script", sorted((ROOT / "images").glob("*/cps1-*")), ids=lambda p: p.name)
def test_scripts_parse_and_are_executable(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert script.stat().st_mode & 0o111


def test_services_image_uses_the_commands_the_chart_runs() -> None:
    chart = "\n".join(p.read_text() for p in (ROOT / "helm" / "cps1" / "templates").rglob("*.yaml"))
    entry_points = (ROOT / "setup.cfg").read_text()
    for command in set(re.findall(r"args: \[(cps1[\w-]*)", chart)):
        assert f"{command} = " in entry_points, f"the chart runs {command}, which setup.cfg does not install"
