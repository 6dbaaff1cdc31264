"""The services image installs CPS1 from its wheel (images/cps1/Dockerfile: `pip install
/src`), so a source file the wheel leaves out is missing in every pod: the console's page
scripts under console/app_pages/ (not a package) once were, and the console showed
"StreamlitPageNotFoundError: The file signin.py could not be found" in-cluster only."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

SHIPPED = ("common", "kubeclient", "apiclient", "hooks", "api", "console", "gateway", "cps1")


def test_the_wheel_holds_every_python_file_of_the_shipped_packages(tmp_path: Path) -> None:
    # What the Dockerfile copies, and nothing else: an egg-info left in the checkout lists
    # files the clean copy in the image build does not find.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in (*SHIPPED, "crds"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path),
        str(src),
    ]
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("cps1-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        str(path.relative_to(ROOT))
        for package in SHIPPED
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert "console/app_pages/signin.py" in sources
    assert sources - packed == set()
