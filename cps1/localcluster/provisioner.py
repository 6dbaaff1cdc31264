"""Dynamic volumes for the real node: each claim of the `standard` StorageClass gets a directory
under the run's folder, offered as a `local` PersistentVolume pinned to the node.

kube-controller-manager's built-in host-path provisioner (what kwok-only clusters use) makes
root-owned 0750 directories, and kubelet applies no fsGroup to hostPath volumes, so a
non-root Workspace could not write its own home. A `local` volume gets fsGroup ownership from
kubelet like any real disk, so the pod's restricted securityContext works unchanged.

    python -m cps1.localcluster.provisioner KUBECONFIG VOLUME_DIR NODE_NAME

Runs until SIGTERM; each pass is `reconcile` (create volumes for pending claims, remove
released ones and their directories). It is the local cluster's storage, not part of CPS1.
"""

import contextlib
import shutil
import signal
import sys
import threading
from pathlib import Path

PROVISIONER = "cps1.io/local-node"
HOSTNAME = "kubernetes.io/hostname"


def storage_class(provisioner: str, binding: str = "Immediate") -> dict:
    """The default StorageClass `standard`, served by `provisioner`."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding,
    }


# WaitForFirstConsumer, as local volumes are meant to be: the scheduler picks the node, marks the
# claim, and waits for its volume, instead of first refusing the pod for an unbound claim and
# retrying it only minutes later.
STORAGE_CLASS = storage_class(PROVISIONER, "WaitForFirstConsumer")
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def volume_for(claim: dict, directory: Path, node_name: str) -> dict:
    """The PersistentVolume that serves `claim` from `directory`, pre-bound to it."""
    meta = claim["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"].get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS["metadata"]["name"],
            "volumeMode": "Filesystem",
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "local": {"path": str(directory)},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}
                            ]
                        }
                    ]
                }
            },
        },
    }


def reconcile(client, root: Path, node_name: str) -> None:
    from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

    import kubeclient as kube

    volumes = kube.resource(client, "v1", "PersistentVolume")
    ours = {
        v["metadata"]["name"]: v
        for v in volumes.get().to_dict()["items"]
        if (v["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") == PROVISIONER
    }
    for claim in kube.resource(client, "v1", "PersistentVolumeClaim").get().to_dict()["items"]:
        wanted = claim["spec"].get("storageClassName") == STORAGE_CLASS["metadata"]["name"]
        if (
            not wanted
            or (claim.get("status") or {}).get("phase") != "Pending"
            or f"pvc-{claim['metadata']['uid']}" in ours
        ):
            continue
        directory = root / f"pvc-{claim['metadata']['uid']}"
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(ConflictError):
            volumes.create(body=volume_for(claim, directory, node_name))
    for name, volume in ours.items():
        if (volume.get("status") or {}).get("phase") in ("Released", "Failed"):
            with contextlib.suppress(NotFoundError):
                volumes.delete(name=name)
            shutil.rmtree(volume["spec"]["local"]["path"], ignore_errors=True)


def main(argv: list[str]) -> int:
    import kubeclient as kube

    kubeconfig, root, node_name = argv
    client = kube.dynamic_client(kubeconfig)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        try:
            reconcile(client, Path(root), node_name)
        except Exception as err:  # the API server restarting: try again on the next pass
            print(f"provisioner pass failed: {err}", file=sys.stderr, flush=True)
        stop.wait(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
