"""Properties of the renderer over many inputs: valid Kubernetes objects, idempotence, and
no exception and no dropped home volume whatever the spec says."""

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks import model
from hooks.reconcile import workspace
from tests.unit.hooks import factories
from tests.unit.hooks.factories import NOW, SETTINGS, parent, related, stored

KUBERNETES_VERSION = "1.36"


@pytest.mark.parametrize("template_name", ["python", "node", "go"])
def test_every_child_is_a_valid_kubernetes_object(template_name: str) -> None:
    from tests.conftest import ROOT, load

    template = load(ROOT / "examples" / "templates" / f"{template_name}.yaml")
    ws, errors = model.resolve(parent(template=template_name), template)
    assert ws is not None, errors
    for child in workspace.render_children(ws, SETTINGS, {}, 1):
        kubernetes_validate.validate(child, KUBERNETES_VERSION, strict=True)


def test_sync_is_idempotent_over_stored_children(python_template: dict) -> None:
    answer, children = factories.converged(parent(), python_template)
    again = workspace.sync(parent(), children, related(python_template), now=NOW, settings=SETTINGS)
    assert again["children"] == answer["children"]
    restored = factories.children_map([stored(c) for c in again["children"]])
    third = workspace.sync(parent(), restored, related(python_template), now=NOW, settings=SETTINGS)
    assert third["children"] == answer["children"]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=12),
    st.sampled_from(["1", "500m", "2Gi", "3.12", "main", "16", "-1", "1e3", "0"]),
)
specs = st.fixed_dictionaries(
    {"owner": st.sampled_from(["alice", "bob"]), "template": st.sampled_from(["python", "missing"])},
    optional={
        "running": st.booleans(),
        "parameters": st.dictionaries(st.sampled_from(["cpu", "memory", "pythonVersion", "x"]), scalars, max_size=4),
        "idleTimeoutSeconds": st.integers(0, 10**6),
        "storage": st.fixed_dictionaries(
            {},
            optional={
                "size": st.sampled_from(["1Gi", "10Gi", "20Gi", "nonsense"]),
                "onDelete": st.sampled_from(["Delete", "Retain"]),
            },
        ),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs, had_volume=st.booleans())
def test_any_spec_gives_an_answer_that_keeps_the_volume(python_template: dict, spec: dict, had_volume: bool) -> None:
    _, children = factories.converged(parent(), python_template)
    if not had_volume:
        children = factories.children_map([])
    candidate = parent(**{k: v for k, v in spec.items() if k not in ("owner", "template")}, template=spec["template"])
    answer = workspace.sync(candidate, children, related(python_template), now=NOW, settings=SETTINGS)
    assert answer["status"]["phase"] in {"Pending", "Starting", "Running", "Stopping", "Stopped", "Failed"}
    for child in answer["children"]:
        if child["kind"] != "Namespace":
            assert child["metadata"]["namespace"] == "ws-alice-dev"
    if had_volume:
        assert any(c["kind"] == "PersistentVolumeClaim" for c in answer["children"])
