"""The real node's configuration documents, as rendered (the e2e tier checks them as run)."""

import ipaddress
import json
import os
import tomllib
from pathlib import Path

import pytest

from cps1.localcluster import credentials, node
from cps1.localcluster.cluster import node_manifest

PATHS = node.Paths(Path("/run-dir"))
BINS = {"runc": Path("/bin-runc"), "cni": Path("/bin-cni")}


def test_cni_gives_pods_no_way_off_the_machine() -> None:
    bridge = node.cni_conflist(PATHS)["plugins"][0]
    assert bridge["bridge"] == node.BRIDGE
    assert (bridge["isGateway"], bridge["isDefaultGateway"], bridge["ipMasq"]) == (True, False, False)
    routes = [ipaddress.ip_network(r["dst"]) for r in bridge["ipam"]["routes"]]
    assert routes == [ipaddress.ip_network(node.SERVICE_CIDR)]
    assert bridge["ipam"]["ranges"][0][0]["gateway"] == node.NODE_IP
    assert ipaddress.ip_address(node.NODE_IP) in ipaddress.ip_network(node.POD_CIDR)
    assert bridge["ipam"]["dataDir"].startswith("/run-dir/")


def test_containerd_keeps_everything_in_the_run_dir() -> None:
    config = tomllib.loads(node.containerd_config(PATHS, BINS, "cps1.local/pause:abc"))
    assert config["version"] == 3
    assert config["root"].startswith("/run-dir/") and config["state"].startswith("/run-dir/")
    assert config["grpc"]["address"] == str(PATHS.socket)
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["netns_mounts_under_state_dir"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]["options"]
    assert runc == {"BinaryName": "/bin-runc/runc", "SystemdCgroup": False}
    assert runtime["cni"] == {"bin_dirs": ["/bin-cni"], "conf_dir": str(PATHS.cni_conf_dir)}
    assert config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == "cps1.local/pause:abc"
    assert config["plugins"]["io.containerd.grpc.v1.cri"]["stream_server_address"] == "127.0.0.1"
    assert "io.containerd.nri.v1.nri" in config["disabled_plugins"]


def test_kubelet_serves_on_the_node_address_to_certificate_holders_only() -> None:
    config = node.kubelet_config(PATHS, 12345)
    assert config["address"] == node.NODE_IP
    assert config["healthzBindAddress"] == "127.0.0.1"
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authentication"]["webhook"] == {"enabled": False}
    assert config["authentication"]["x509"]["clientCAFile"].startswith("/run-dir/")
    assert (config["cgroupDriver"], config["failCgroupV1"], config["failSwapOn"]) == ("cgroupfs", False, False)
    assert config["evictionHard"] == {}


def test_kube_proxy_binds_loopback_and_node_address_only() -> None:
    config = node.kube_proxy_config(PATHS, 1, 2)
    assert config["mode"] == "iptables"
    assert config["healthzBindAddress"] == "127.0.0.1:1" and config["metricsBindAddress"] == "127.0.0.1:2"
    assert config["nodePortAddresses"] == [f"{node.NODE_IP}/32"]


def test_kwok_nodes_are_tainted_only_beside_a_real_node() -> None:
    assert node.beside_real(node_manifest("k"), True)["spec"]["taints"] == [node.KWOK_TAINT]
    assert node.beside_real(node_manifest("k"), False)["spec"]["taints"] == []
    # kwok manages only nodes with this annotation (--manage-nodes-with-annotation-selector)
    assert node_manifest("k")["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}


def test_token_line_and_certificates(tmp_path: Path) -> None:
    token, line = credentials.token_line("system:node:n", ("system:nodes",))
    assert line == f'{token},system:node:n,system:node:n,"system:nodes"\n'
    lines = node.prepare(tmp_path)
    assert [line.split(",")[1] for line in lines] == ["system:node:cps1-node", "system:kube-proxy", "cps1:kube-router"]
    for name in ("ca", "kubelet", "apiserver-kubelet-client"):
        assert (tmp_path / "node" / "pki" / f"{name}.crt").exists()
        assert (tmp_path / "node" / "pki" / f"{name}.key").stat().st_mode & 0o077 == 0
    flags = node.apiserver_flags(tmp_path)
    assert f"--kubelet-certificate-authority={tmp_path / 'node' / 'pki' / 'ca.crt'}" in flags


def test_iptables_cleanup_drops_only_the_node_chains() -> None:
    saved = """*filter
:INPUT ACCEPT [1:2]
:KUBE-FIREWALL - [0:0]
:CPS1-NODE-FORWARD - [0:0]
:OTHER - [0:0]
-A INPUT -m comment --comment "kube-router netpol" -j KUBE-ROUTER-INPUT
-A INPUT -j OTHER
-A FORWARD -j CPS1-NODE-FORWARD
-A KUBE-FIREWALL -j DROP
-A OTHER -s 10.88.0.0/16 -j ACCEPT
COMMIT
"""
    kept = node.without_chains(saved, ("KUBE-", node.FIREWALL_CHAIN))
    assert kept.splitlines() == [
        "*filter",
        ":INPUT ACCEPT [1:2]",
        ":OTHER - [0:0]",
        "-A INPUT -j OTHER",
        "-A OTHER -s 10.88.0.0/16 -j ACCEPT",
        "COMMIT",
    ]


def test_a_live_claim_refuses_a_second_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One real node per machine: while the run that claimed it lives, another start fails
    before touching the host (no bridge, no iptables)."""
    monkeypatch.setattr(node, "CLAIM_DIR", tmp_path)
    parent = os.getppid()  # a live process, not us
    claim = {"run_dir": str(tmp_path / "first"), "owner": parent, "owner_started": node._started(parent)}
    (tmp_path / "node.json").write_text(json.dumps(claim))
    with pytest.raises(node.NodeBusy, match=f"already runs on this machine from {tmp_path / 'first'}"):
        node._claim(tmp_path / "second", {})
    assert json.loads((tmp_path / "node.json").read_text()) == claim


def test_a_dead_claim_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim whose owner and agents are gone (a crash) is cleaned up, not refused."""
    monkeypatch.setattr(node, "CLAIM_DIR", tmp_path)
    monkeypatch.setattr(node, "_network_up", dict)
    cleaned = []
    monkeypatch.setattr(node, "cleanup", lambda run_dir, pids, bins: cleaned.append(run_dir))
    (tmp_path / "node.json").write_text(json.dumps({"run_dir": str(tmp_path / "crashed"), "owner": 2**22 + 1}))
    node._claim(tmp_path / "next", {})
    assert cleaned == [tmp_path / "crashed"]
    assert json.loads((tmp_path / "node.json").read_text())["run_dir"] == str(tmp_path / "next")
