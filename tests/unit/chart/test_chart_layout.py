"""The chart's layout rule: one Kubernetes object per template file, in a folder per component,
so a reader finds an object by its component and kind (zero-to-jupyterhub's layout)."""

import re
from collections import Counter

import pytest

from tests.unit.chart.test_chart import CHART, SCENARIOS, run_helm

SOURCE = re.compile(r"^# Source: (\S+)$", re.M)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_one_object_per_template_file(values) -> None:
    out = run_helm("template", "cps1", str(CHART), "-f", str(values), "--set", "api.proxySecretSecret=s")
    assert out.returncode == 0, out.stderr
    per_file = Counter(SOURCE.findall(out.stdout))
    assert per_file, "no objects rendered"
    assert {path: n for path, n in per_file.items() if n > 1} == {}


def test_templates_live_in_component_folders() -> None:
    loose = [p.name for p in (CHART / "templates").iterdir() if p.is_file()]
    assert sorted(loose) == ["NOTES.txt", "_helpers.tpl"]
    assert (CHART / "templates" / "_helpers.tpl").read_text().startswith("{{- /*")
