"""The real node: pods from locally built images really run under the restricted profile,
`kubectl logs` and `exec` reach them through the API server, their routes end at this
machine, and NetworkPolicy is enforced (kube-router's firewall) for real.

Only the pod and Service ranges of the run are dialled (tests/conftest.py's network guard); every
routing fact is read (route tables, addresses, iptables rules), never probed outside."""

import ipaddress
import json
import socket
import subprocess
import time

import pytest

import kubeclient as kube
from cps1.localcluster import node, processes
from cps1.localcluster.cluster import LocalCluster
from tests.support import node as node_support
from tests.support.cluster import found, wait_until
from tests.support.node import NS, ready_pod, restricted_namespace


@pytest.fixture(scope="module")
def client(real_cluster: LocalCluster):
    """The test namespace, removed with its pods afterwards: the node is shared with the next
    modules, and its two cores' CPU requests are what Workspaces are scheduled against."""
    client = kube.dynamic_client(real_cluster.kubeconfig)
    restricted_namespace(client)
    yield client
    kube.resource(client, "v1", "Namespace").delete(name=NS)
    wait_until(lambda: kube.get(client, "v1", "Namespace", NS) is None, 180, what=f"namespace {NS} gone")


def kubectl(cluster: LocalCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return node_support.kubectl(cluster, NS, *args, check=check)


def probe(cluster: LocalCluster, pod: str, address: str) -> bool:
    return node_support.probe(cluster, NS, pod, address)


def test_restricted_pod_runs_on_the_real_node_with_logs_and_exec(client, real_cluster: LocalCluster) -> None:
    started = time.monotonic()
    pod = ready_pod(client, "hardened", {"app": "hardened"})
    print(f"pod create -> Ready on the real node: {time.monotonic() - started:.1f}s")
    assert pod["spec"]["nodeName"] == node.NAME
    assert pod["status"]["phase"] == "Running"

    assert "serving on :8080" in kubectl(real_cluster, "logs", "hardened").stdout
    status = kubectl(real_cluster, "exec", "hardened", "--", "/netcheck", "cat", "/proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[:2] == ["1000", "1000"]
    assert int(fields["CapEff"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # a seccomp filter is installed (RuntimeDefault)
    mounts = kubectl(real_cluster, "exec", "hardened", "--", "/netcheck", "cat", "/proc/self/mounts").stdout
    root = next(line.split() for line in mounts.splitlines() if line.split()[1] == "/")
    assert "ro" in root[3].split(","), root

    # The host reaches the pod on its pod IP (inside the run's pod range).
    with socket.create_connection((pod["status"]["podIP"], 8080), timeout=5) as conn:
        assert conn.recv(64).startswith(b"ok hardened")


def test_pods_route_only_to_this_machine(client, real_cluster: LocalCluster) -> None:
    ready_pod(client, "router", {"app": "router"})
    table = kubectl(real_cluster, "exec", "router", "--", "/netcheck", "cat", "/proc/net/route").stdout
    routes: list[ipaddress.IPv4Network] = []
    for line in table.splitlines()[1:]:
        cols = line.split()
        dest, mask = (ipaddress.IPv4Address(bytes.fromhex(c)[::-1]) for c in (cols[1], cols[7]))
        routes.append(ipaddress.IPv4Network(f"{dest}/{mask}"))
    assert routes, table
    assert ipaddress.ip_network("0.0.0.0/0") not in routes, f"the pod has a default route:\n{table}"
    allowed = (ipaddress.IPv4Network(node.POD_CIDR), ipaddress.IPv4Network(node.SERVICE_CIDR))
    assert all(any(r.subnet_of(a) for a in allowed) for r in routes), routes

    registered = found(kube.get(client, "v1", "Node", node.NAME))
    internal = [a["address"] for a in registered["status"]["addresses"] if a["type"] == "InternalIP"]
    assert internal == [node.NODE_IP]
    addresses = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, check=True).stdout)
    holders = [i["ifname"] for i in addresses for a in i["addr_info"] if a["local"] == node.NODE_IP]
    assert holders == [node.BRIDGE]

    # No masquerading of pod traffic: a MASQUERADE/SNAT rule is reached only by marked packets
    # (kube-proxy's Service traffic returns unmarked packets first; portmap marks its own) or
    # does not apply to sources in the pod range.
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
    pods = ipaddress.ip_network(node.POD_CIDR)
    marked_only: set[str] = set()
    for rule in (line for line in nat.splitlines() if line.startswith("-A ")):
        words = rule.split()
        if "! --mark" in rule and rule.endswith("-j RETURN"):
            marked_only.add(words[1])
        if any(t in rule for t in ("-j MASQUERADE", "-j SNAT")):
            source = words[words.index("-s") + 1] if "-s" in words else "0.0.0.0/0"
            assert "--mark" in rule or words[1] in marked_only or not pods.overlaps(ipaddress.ip_network(source)), rule
    forward = subprocess.run(["iptables", "-w", "-S", node.FIREWALL_CHAIN], capture_output=True, text=True)
    assert f"-A {node.FIREWALL_CHAIN} -i {node.BRIDGE} ! -o {node.BRIDGE} -j DROP" in forward.stdout


def test_network_policy_is_enforced(client, real_cluster: LocalCluster) -> None:
    server = ready_pod(client, "np-server", {"app": "np-server"})
    ready_pod(client, "np-client", {"role": "client"})
    ready_pod(client, "np-other", {"role": "other"})
    target = f"{server['status']['podIP']}:8080"
    assert probe(real_cluster, "np-client", target)
    assert probe(real_cluster, "np-other", target)

    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
    kube.apply(
        client,
        {
            **policy,
            "metadata": {"name": "default-deny", "namespace": NS},
            "spec": {"podSelector": {"matchLabels": {"app": "np-server"}}, "policyTypes": ["Ingress"]},
        },
    )
    wait_until(lambda: not probe(real_cluster, "np-client", target), timeout=30, what="default-deny to take effect")
    assert not probe(real_cluster, "np-other", target)

    kube.apply(
        client,
        {
            **policy,
            "metadata": {"name": "allow-client", "namespace": NS},
            "spec": {
                "podSelector": {"matchLabels": {"app": "np-server"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": 8080}]}
                ],
            },
        },
    )
    wait_until(lambda: probe(real_cluster, "np-client", target), timeout=30, what="the allow rule to take effect")
    assert not probe(real_cluster, "np-other", target)


def test_service_reaches_its_pod_through_kube_proxy(client, real_cluster: LocalCluster) -> None:
    ready_pod(client, "svc-backend", {"app": "svc-backend"})
    service = kube.apply(
        client,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc-backend", "namespace": NS},
            "spec": {"selector": {"app": "svc-backend"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    ip = service["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(node.SERVICE_CIDR)

    def answers() -> bytes:
        try:
            with socket.create_connection((ip, 80), timeout=2) as conn:
                return conn.recv(64)
        except OSError:
            return b""

    assert wait_until(answers, timeout=30, what="the Service's ClusterIP to answer").startswith(b"ok svc-backend")


def test_a_crashed_node_is_cleaned_up_by_the_next_start(client, real_cluster: LocalCluster) -> None:
    """Last in this module: SIGKILL every node agent (a crash leaves shims, containers,
    mounts); starting the node again in the same run cleans that up and runs the pod again."""
    ready_pod(client, "survivor", {"app": "survivor"})
    paths = node.Paths(real_cluster.run_dir)
    before = set(node.pod_pids())
    shims = node.shim_pids(paths)
    assert before and shims
    for name in reversed(node.AGENTS):
        real_cluster.kill(name)
    assert set(node.pod_pids()) == before  # the crash left the containers running

    started = time.monotonic()
    node.start(real_cluster)
    print(f"real node restart after a crash, to Ready: {time.monotonic() - started:.1f}s")
    assert not any(processes.alive(pid) for pid in before | set(shims))
    uid = found(kube.get(client, "v1", "Pod", "survivor", NS))["metadata"]["uid"]
    wait_until(
        lambda: probe(real_cluster, "survivor", "127.0.0.1:8080") or None,
        timeout=90,
        what="the pod to run again after the restart",
    )
    assert found(kube.get(client, "v1", "Pod", "survivor", NS))["metadata"]["uid"] == uid
