"""The real node's volume provisioner: the volume it offers for a claim (pure)."""

from pathlib import Path

from cps1.localcluster import provisioner


def test_a_claim_gets_a_local_volume_on_the_node_bound_to_it() -> None:
    claim = {
        "metadata": {"name": "home", "namespace": "ws-a", "uid": "u-1"},
        "spec": {"resources": {"requests": {"storage": "10Gi"}}, "accessModes": ["ReadWriteOnce"]},
    }
    volume = provisioner.volume_for(claim, Path("/run/x/pvc-u-1"), "cps1-node")
    spec = volume["spec"]
    # `local`, not hostPath: kubelet gives a local volume the pod's fsGroup, so uid 1000 can write.
    assert spec["local"] == {"path": "/run/x/pvc-u-1"} and "hostPath" not in spec
    assert spec["claimRef"] == {"namespace": "ws-a", "name": "home", "uid": "u-1"}
    assert spec["capacity"] == {"storage": "10Gi"} and spec["persistentVolumeReclaimPolicy"] == "Delete"
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["cps1-node"]}
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == provisioner.PROVISIONER
    assert provisioner.STORAGE_CLASS["provisioner"] == provisioner.PROVISIONER
