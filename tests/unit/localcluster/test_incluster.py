"""The in-cluster install's desired state without a cluster: CoreDNS's manifests, the
`kubernetes` endpoints, the chart values on this cluster, and the API server relay."""

import ipaddress
import socket
import subprocess
import sys
import threading
import time

import kubernetes_validate
import yaml

from cps1.localcluster import incluster, node
from cps1.localcluster.processes import LOOPBACK, free_port
from hooks.settings import Settings
from tests.conftest import ROOT
from tests.unit.chart.test_chart import CHART, run_helm


def test_coredns_manifests_are_valid_and_match_what_workspaces_may_reach(tmp_path) -> None:
    docs = incluster.coredns_manifests("cps1.local/coredns:v0")
    for doc in docs:
        kubernetes_validate.validate(doc, "1.36", strict=True)
    service = next(d for d in docs if d["kind"] == "Service")
    assert ipaddress.ip_address(service["spec"]["clusterIP"]) in ipaddress.ip_network(node.SERVICE_CIDR)
    assert service["spec"]["clusterIP"] == node.kubelet_config(node.Paths(tmp_path), 1)["clusterDNS"][0]
    settings = Settings()  # the Workspaces' NetworkPolicy lets DNS through to these pods only
    key, value = settings.dns_pod_label.split("=")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == settings.dns_namespace
    assert deployment["spec"]["template"]["metadata"]["labels"][key] == value
    dns_ports = {p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert dns_ports == {53}  # a NetworkPolicy port is the pod's: Workspaces may reach DNS on 53 only
    corefile = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["Corefile"]
    assert "forward" not in corefile and f"kubernetes {node.CLUSTER_DOMAIN}" in corefile  # no upstream


def test_kubernetes_endpoints_name_the_relay() -> None:
    doc = incluster.kubernetes_endpointslice(node.NODE_IP, 7443)
    kubernetes_validate.validate(doc, "1.36", strict=True)
    assert doc["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert doc["endpoints"][0]["addresses"] == [node.NODE_IP] and doc["ports"][0]["port"] == 7443


def test_chart_renders_with_the_local_values(tmp_path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(incluster.chart_values(ingress_port=8123, gateway_node_port=30022)))
    out = run_helm("template", "cps1", str(CHART), "--namespace", incluster.NAMESPACE, "-f", str(values))
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert pods and all(c["imagePullPolicy"] == "Never" for spec in pods for c in spec["containers"])
    hooks = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "cps1-hooks")
    env = {e["name"]: e.get("value") for e in hooks["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CPS1_HOOKS_IDE_PORT"] == "8123" and env["CPS1_HOOKS_IDE_DOMAIN"] == "localhost"
    gateway = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "cps1-gateway")
    assert gateway["spec"]["type"] == "NodePort" and gateway["spec"]["ports"][0]["nodePort"] == 30022


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server((LOOPBACK, 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_relay_carries_bytes_both_ways() -> None:
    server, target = _echo_server()
    port = free_port()
    argv = [sys.executable, "-m", "cps1.localcluster.apiserver_relay", LOOPBACK, str(port), str(target)]
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) as relay:
        try:
            _exchange(relay, port)
        finally:
            relay.terminate()
            server.close()


def _exchange(relay: subprocess.Popen, port: int) -> None:
    assert "listening" in relay.stdout.readline()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    with socket.create_connection((LOOPBACK, port), timeout=5) as conn:
        conn.sendall(b"hello")
        got = b""
        while len(got) < 5 and time.monotonic() < deadline:
            got += conn.recv(1024)
    assert got == b"HELLO"
