"""The release workflow cannot run here (no GitHub, no registry): it is linted by actionlint
(built from the Go module proxy by build.sh) and checked against the chart it publishes."""

import subprocess
from functools import cache
from pathlib import Path

import yaml

from cps1.localcluster.cluster import binaries
from cps1.localcluster.images import SERVICES_REPOSITORY
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
CHART = ROOT / "helm" / "cps1"


@cache
def actionlint() -> Path:
    return binaries(("actionlint",))["actionlint"] / "actionlint"


@cache
def release() -> dict:
    return yaml.safe_load(RELEASE.read_text())


def test_actionlint_passes_every_workflow() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert str(RELEASE) in files
    out = subprocess.run([str(actionlint()), "-no-color", *files], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "x.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    out = subprocess.run([str(actionlint()), str(broken)], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert out.returncode != 0 and "nope" in out.stdout


def test_runs_on_a_version_tag() -> None:
    assert release()[True]["push"]["tags"] == ["v*.*.*"]  # YAML 1.1 reads the key `on` as True


def test_builds_every_image_for_amd64_and_arm64() -> None:
    job = release()["jobs"]["images"]
    names = {entry["name"] for entry in job["strategy"]["matrix"]["include"]}
    assert names == {"cps1", "workspace-python", "workspace-node", "workspace-go"}
    build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64" and build["with"]["push"] is True


def test_pushes_the_chart_with_its_image_pointing_at_the_pushed_one() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["image"]
    assert values["repository"] == SERVICES_REPOSITORY and values["tag"] == ""  # tag: the appVersion
    steps = release()["jobs"]["chart"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert f"^  repository: {SERVICES_REPOSITORY}$" in script  # the line the sed rewrites exists
    assert f"  repository: {SERVICES_REPOSITORY}\n" in (CHART / "values.yaml").read_text()
    assert 'helm push "dist/cps1-' in script and "oci://$REGISTRY/charts" in script
