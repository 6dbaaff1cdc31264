"""Every CPS1 service container runs Python on a read-only root, so each gets an emptyDir at
/tmp: the Kubernetes client's discovery cache, gunicorn's and Streamlit's files go there.
(The keygen Job and the IDE prober lacked it and failed on the real node: "No usable temporary
directory found".)"""

import pytest

from tests.unit.chart.test_chart import SCENARIOS, render


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.stem)
def test_every_cps1_workload_has_a_writable_tmp(values) -> None:
    for doc in render(values):
        if (
            doc["kind"] not in ("Deployment", "Job")
            or doc["metadata"]["labels"].get("app.kubernetes.io/name") != "cps1"
        ):
            continue
        spec = doc["spec"]["template"]["spec"]
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in empty_dirs, (doc["metadata"]["name"], container["name"])
