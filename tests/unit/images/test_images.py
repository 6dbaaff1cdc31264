"""The image recipes, without building them (tests/e2e/test_images.py builds and runs them):
pinned bases, non-root users, sources that exist, scripts that parse, the services image's
dependencies pinned, every image the examples and the chart name built, and cache keys that
change with what goes into an image."""

import re
import subprocess
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cps1.localcluster import images
from tests.conftest import ROOT, load

IMAGES = sorted((ROOT / "images").glob("*/Dockerfile"))
CATALOG = images.catalog(images.read_versions())


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.parent.name)
def test_dockerfile_is_pinned_non_root_and_complete(path: Path) -> None:
    commands = dockerfile.parse_file(str(path))
    first_from = next(i for i, c in enumerate(commands) if c.cmd == "FROM")
    defaults = dict(c.value[0].split("=", 1) for c in commands[:first_from] if c.cmd == "ARG")
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], c.value[0]) for c in commands if c.cmd == "FROM"]
    for base in (b for b in bases if b != "scratch"):
        assert re.search(r":\d[\w.-]*$", base.split(" ")[0]), f"{base}: pin the base image by version"
    final_stage = commands[max(i for i, c in enumerate(commands) if c.cmd == "FROM") :]
    users = [c.value[0] for c in final_stage if c.cmd == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), "the final stage runs as a numeric non-root user"
    sources = images.copy_sources(path.read_text())
    assert sources == [s for c in commands if c.cmd == "COPY" and not c.flags for s in c.value[:-1]]
    components = {i.context_component for i in CATALOG if ROOT / i.dockerfile == path}
    if components == {""}:
        for source in sources:
            assert (ROOT / source).exists(), f"{path}: COPY {source} does not exist"
    else:  # the context is the directory build.sh fills for that component
        (component,) = components
        build = (ROOT / "cps1" / "localcluster" / "build.sh").read_text()
        for source in sources:
            assert f'"$stage/{source}"' in build, f"{path}: build.sh {component} does not write {source}"


@pytest.mark.parametrize("script", sorted((ROOT / "images").glob("*/cps1-*")), ids=lambda p: p.name)
def test_scripts_parse_and_are_executable(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert script.stat().st_mode & 0o111


def test_services_image_uses_the_commands_the_chart_runs() -> None:
    chart = "\n".join(p.read_text() for p in (ROOT / "helm" / "cps1" / "templates").rglob("*.yaml"))
    entry_points = (ROOT / "setup.cfg").read_text()
    commands = set(re.findall(r"args:\s*\n\s*- (cps1[\w-]*)", chart))
    assert commands >= {"cps1-gateway", "cps1-console", "cps1-ide-prober", "cps1"}
    for command in commands:
        assert f"{command} = " in entry_points, f"the chart runs {command}, which setup.cfg does not install"


def test_every_image_the_examples_and_the_chart_name_is_built() -> None:
    named = {load(p)["spec"]["image"] for p in (ROOT / "examples" / "templates").glob("*.yaml")}
    chart = load(ROOT / "helm" / "cps1" / "Chart.yaml")
    named.add(f"{load(ROOT / 'helm' / 'cps1' / 'values.yaml')['image']['repository']}:{chart['appVersion']}")
    upstream = load(ROOT / "helm" / "cps1" / "charts" / "metacontroller" / "values.yaml")["image"]
    named.add(f"{upstream['repository']}:{upstream['tag']}")
    assert named == {i.ref for i in CATALOG}
    assert {ROOT / i.dockerfile for i in CATALOG} == set(IMAGES)


def test_archives_carry_the_names_containerd_uses() -> None:
    assert images.full_ref("cps1/workspace-go:0.1.0") == "docker.io/cps1/workspace-go:0.1.0"
    assert images.full_ref("busybox:1") == "docker.io/library/busybox:1"
    upstream = "ghcr.io/metacontroller/metacontroller:v4.17.2"
    assert images.full_ref(upstream) == upstream
    assert images.full_ref("localhost/cps1/debian:trixie") == "localhost/cps1/debian:trixie"


def test_cache_key_changes_with_every_input_and_only_then() -> None:
    given: dict[str, Any] = {"recipe": "FROM x", "files": {"a": "1"}, "args": {"BASE": "b"}, "base": "sha256:0"}
    key = images.cache_key(**given)
    assert images.cache_key(**dict(given)) == key
    changes = (("recipe", "FROM y"), ("files", {"a": "2"}), ("args", {"BASE": "c"}), ("base", "sha256:1"))
    for field, other in changes:
        assert images.cache_key(**{**given, field: other}) != key, field


def test_copy_sources_reads_continued_lines_and_skips_other_stages() -> None:
    text = "FROM a AS b\nCOPY --from=b /x /y\nCOPY --chmod=755 one \\\n  two /dst/\nADD three /t\n# COPY no /n\n"
    assert images.copy_sources(text) == ["one", "two", "three"]


def test_base_is_made_from_the_pinned_suite_alone() -> None:
    suite = images.read_versions()["DEBIAN_SUITE"]
    recipe = images.base_recipe(suite)
    assert recipe[0] == "mmdebstrap" and suite in recipe
    assert all(s.split()[1].startswith("http://deb.debian.org/") for s in recipe if s.startswith("deb "))
    for path in IMAGES:  # a Docker user's default base is the same Debian release
        assert f"ARG BASE=debian:{DEBIAN_RELEASES[suite]}-slim" in path.read_text()


DEBIAN_RELEASES = {"bookworm": 12, "trixie": 13}
