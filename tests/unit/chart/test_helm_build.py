"""The helm that build.sh builds behaves like a released helm: it reports its release, and with
no cluster it assumes the Kubernetes version its client libraries speak (helm's release Makefile
stamps both; unstamped, it assumed v1.20.0 and refused the chart's kubeVersion)."""

import json
import subprocess
import tempfile

import yaml

from cps1.localcluster.images import read_versions
from tests.unit.chart.test_chart import CHART, run_helm


def proxy_reported_commit(module: str, version: str) -> str:
    """The tag's commit as the Go module proxy reports it, or "" where the proxy leaves
    `Origin` out (the proxy on this machine does); build.sh stamps the same value."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
    return str(json.loads(out.stdout).get("Origin", {}).get("Hash", ""))


def test_version_is_the_release() -> None:
    template = '{"Version": "{{.Version}}", "GitCommit": "{{.GitCommit}}", "GitTreeState": "{{.GitTreeState}}"}'
    out = run_helm("version", "--template", template)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    version = read_versions()["HELM_VERSION"]
    assert info["Version"] == version
    assert info["GitCommit"] == proxy_reported_commit("helm.sh/helm/v3", version), info
    assert info["GitTreeState"] == "clean"


def test_template_without_kube_version_renders_the_chart() -> None:
    out = run_helm("template", "t", str(CHART))
    assert out.returncode == 0, out.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(out.stdout) if doc}
    assert {"Deployment", "CompositeController", "NetworkPolicy"} <= kinds


def test_lint_without_kube_version_passes() -> None:
    out = run_helm("lint", "--strict", str(CHART))
    assert out.returncode == 0, out.stdout + out.stderr
