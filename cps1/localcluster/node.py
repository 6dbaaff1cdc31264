"""A real node for the local cluster: containerd and runc run the pods, the CNI bridge wires
them, the kubelet registers the node, kube-proxy (iptables) serves Services and kube-router's
firewall enforces NetworkPolicy. Every binary comes from build.sh; every file lives in the run
directory.

Network: pods live in network namespaces containerd keeps under the run directory, attached to
the bridge cps1br0 that the run creates. The node's address is the bridge's gateway address,
never one of the machine's own interfaces. Pods get routes to the pod and Service ranges only
(no default route, no masquerading), and a CPS1 rule drops anything forwarded from the bridge
to another interface. kube-proxy and kube-router own chains in the host's iptables, so one real
node runs per machine at a time: a run claims the node in /run/cps1/node.json, and a run whose
processes are gone (a crash) is cleaned up by the next one.
"""

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from cps1.localcluster import credentials, processes
from cps1.localcluster.processes import LOOPBACK, Process, free_port, http_ok
from kubeclient.wait import poll

if TYPE_CHECKING:
    from cps1.localcluster.cluster import LocalCluster

NAME = "cps1-node"
BRIDGE = "cps1br0"
POD_CIDR = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"
# The cluster DNS Service's address (CoreDNS, installed by incluster.py); pods resolve through
# it under ClusterFirst. Without CoreDNS installed, names simply do not resolve, as before.
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250
AGENTS = ("containerd", "kubelet", "kube-proxy", "kube-router")
COMPONENTS = ("kubelet", "containerd", "runc", "cni", "kube-router", "static-images")
# kwok's nodes carry this taint while a real node runs, so ordinary pods land on the real one;
# workloads meant for the simulated nodes (scale benchmarks) tolerate it.
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
CLAIM_DIR = Path(os.environ.get("CPS1_NODE_CLAIM_DIR", "/run/cps1"))
FIREWALL_CHAIN = "CPS1-NODE-FORWARD"
SYSCTLS = ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables")
# kube-router's service account: read what a NetworkPolicy can select.
KUBE_ROUTER_USER = "cps1:kube-router"
KUBE_ROUTER_RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": KUBE_ROUTER_USER},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["namespaces", "pods", "services", "nodes", "endpoints"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": KUBE_ROUTER_USER},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": KUBE_ROUTER_USER},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KUBE_ROUTER_USER}],
    },
]


def beside_real(kwok_node: dict, real_node: bool) -> dict:
    """A kwok node, tainted when a real node runs beside it (so ordinary pods go there)."""
    return {**kwok_node, "spec": {"taints": [KWOK_TAINT] if real_node else []}}


def node_binaries() -> dict[str, Path]:
    from cps1.localcluster.cluster import binaries

    return binaries(COMPONENTS)


class NodeBusy(RuntimeError):
    """This machine cannot run the node now: another live run has it, or we are not root."""


@dataclass(frozen=True)
class Paths:
    """Where the node keeps its state inside a run directory."""

    run_dir: Path

    @property
    def root(self) -> Path:
        return self.run_dir / "node"

    @property
    def socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    def kubeconfig(self, user: str) -> Path:
        return self.root / f"{user}.kubeconfig"


def containerd_config(paths: Paths, bins: dict[str, Path], sandbox_image: str) -> str:
    """containerd's configuration (version 3): every path in the run directory, the locally
    built sandbox image pinned, runc as built here, cgroupfs, no global sockets (NRI off)."""
    c = paths.root / "containerd"
    return f"""version = 3
root = '{c / "root"}'
state = '{c / "state"}'
imports = []
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '{paths.socket}'

[ttrpc]
  address = '{paths.socket}.ttrpc'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{sandbox_image}'

[plugins.'io.containerd.cri.v1.runtime']
  # This VM lacks CAP_SYS_RESOURCE: a negative oom_score_adj would be refused.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '{bins["runc"] / "runc"}'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['{bins["cni"]}']
    conf_dir = '{paths.cni_conf_dir}'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '{LOOPBACK}'
  stream_server_port = '0'

[plugins.'io.containerd.internal.v1.opt']
  path = '{c / "opt"}'

[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = '{c / "image-verifier"}'
"""


def cni_conflist(paths: Paths) -> dict:
    """The pod network: the run's bridge with its address as the pods' gateway, routes to the
    pod range (on-link) and the Service range only, no masquerading."""
    return {
        "cniVersion": "1.0.0",
        "name": "cps1",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": SERVICE_CIDR}],
                    "dataDir": str(paths.root / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(paths: Paths, healthz_port: int) -> dict:
    """The kubelet's configuration: API on the node address with x509 client certificates only
    (the API server holds the one certificate it trusts, so AlwaysAllow admits only it), health
    on loopback, cgroupfs on this machine's v1 controllers, no eviction and no image garbage
    collection (images are imported, never pulled, so a collected one could not come back)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK,
        "healthzPort": healthz_port,
        "tlsCertFile": str(paths.pki / "kubelet.crt"),
        "tlsPrivateKeyFile": str(paths.pki / "kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(paths.pki / "ca.crt")},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{paths.socket}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "evictionHard": {},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "resolvConf": "",
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "podLogsDir": str(paths.root / "pod-logs"),
        "volumePluginDir": str(paths.root / "volume-plugins"),
        "registerNode": True,
        "serializeImagePulls": False,
    }


def kube_proxy_config(paths: Paths, healthz_port: int, metrics_port: int) -> dict:
    """kube-proxy in iptables mode: NodePorts only on the node address, its servers on
    loopback, and the host's conntrack settings left as they are."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(paths.kubeconfig("kube-proxy"))},
        "hostnameOverride": NAME,
        "clusterCIDR": POD_CIDR,
        "healthzBindAddress": f"{LOOPBACK}:{healthz_port}",
        "metricsBindAddress": f"{LOOPBACK}:{metrics_port}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def apiserver_flags(run_dir: Path) -> list[str]:
    """What the API server needs to dial the kubelet for logs and exec, and to verify it."""
    pki = Paths(run_dir).pki
    return [
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
    ]


# Who each agent is to the API server: the kubelet a node (Node authorizer), kube-proxy the
# user that default RBAC binds to system:node-proxier, kube-router our read-only ClusterRole.
IDENTITIES = {
    "kubelet": (f"system:node:{NAME}", ("system:nodes",)),
    "kube-proxy": ("system:kube-proxy", ()),
    "kube-router": (KUBE_ROUTER_USER, ()),
}


def prepare(run_dir: Path) -> list[str]:
    """Before the API server starts: the node's certificates and its agents' tokens (kept for
    their kubeconfigs). Returns the lines to add to the API server's token file."""
    paths = Paths(run_dir)
    paths.pki.mkdir(parents=True, exist_ok=True)
    ca = credentials.write_ca(paths.pki, "ca")
    credentials.write_leaf(paths.pki, "kubelet", ca, server_ips=(NODE_IP,))
    credentials.write_leaf(paths.pki, "apiserver-kubelet-client", ca)
    tokens, lines = {}, []
    for agent, (user, groups) in IDENTITIES.items():
        tokens[agent], line = credentials.token_line(user, groups)
        lines.append(line)
    credentials.write_private(paths.pki / "tokens.json", json.dumps(tokens).encode())
    return lines


def _write_kubeconfigs(cluster: "LocalCluster", paths: Paths) -> None:
    tokens = json.loads((paths.pki / "tokens.json").read_text())
    ca = cluster.run_dir / "certs" / "apiserver.crt"
    for agent, (user, _) in IDENTITIES.items():
        doc = credentials.kubeconfig(cluster.server, ca, tokens[agent], user)
        credentials.write_private(paths.kubeconfig(agent), yaml.safe_dump(doc).encode())


def _run(argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def _ok(argv: list[str]) -> bool:
    try:
        return _run(argv, check=False, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _sysctl(key: str, value: str | None = None) -> str:
    path = Path("/proc/sys") / key
    if value is not None:
        path.write_text(value)
    return path.read_text().strip()


def _network_up() -> dict[str, str]:
    """The bridge with the node address, forwarding on (pod to Service through the host),
    bridged traffic through iptables (NetworkPolicy, Service hairpin), and a rule that drops
    what the pods would send beyond the bridge. Returns the sysctls' previous values."""
    previous = {key: _sysctl(key) for key in SYSCTLS}
    if not _ok(["ip", "link", "show", BRIDGE]):
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    _run(["ip", "addr", "replace", f"{NODE_IP}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE])
    _run(["ip", "link", "set", BRIDGE, "up"])
    for key in SYSCTLS:
        _sysctl(key, "1")
    if not _ok(["iptables", "-w", "-n", "-L", FIREWALL_CHAIN]):
        _run(["iptables", "-w", "-N", FIREWALL_CHAIN])
    _run(["iptables", "-w", "-F", FIREWALL_CHAIN])
    _run(["iptables", "-w", "-A", FIREWALL_CHAIN, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP"])
    if not _ok(["iptables", "-w", "-C", "FORWARD", "-j", FIREWALL_CHAIN]):
        _run(["iptables", "-w", "-I", "FORWARD", "1", "-j", FIREWALL_CHAIN])
    return previous


def without_chains(saved: str, prefixes: tuple[str, ...]) -> str:
    """An iptables-save dump without the chains whose names start with `prefixes` and without
    every rule in or jumping to them."""

    def ours(name: str) -> bool:
        return name.startswith(prefixes)

    def jumps(words: list[str]) -> bool:
        return any(w in ("-j", "--jump", "-g", "--goto") and ours(n) for w, n in itertools.pairwise(words))

    kept = []
    for line in saved.splitlines():
        words = line.split()
        if line.startswith(":") and ours(line[1:]):
            continue
        if line.startswith("-A ") and (ours(words[1]) or jumps(words)):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def _drop_iptables_chains() -> None:
    """Remove what the node put in the host's iptables: the chains of the kubelet, kube-proxy
    and kube-router (all KUBE-*: one node per machine, so they are ours) and CPS1's, in both
    address families; then kube-router's ipsets. (kube-router v2.1.0's own --cleanup-config
    cleans nothing and then crashes.)"""
    for save, restore in (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            dump = _run([save]).stdout
            cleaned = without_chains(dump, ("KUBE-", FIREWALL_CHAIN))
            if cleaned.split() != dump.split():
                subprocess.run([restore, "-w"], input=cleaned, text=True, check=True, capture_output=True, timeout=60)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for name in _run(["ipset", "list", "-n"]).stdout.split():
            if name.startswith(("KUBE-", "kube-router")):
                _ok(["ipset", "destroy", name])


def _network_down(previous: dict[str, str]) -> None:
    _drop_iptables_chains()
    _ok(["ip", "link", "del", BRIDGE])
    for key, value in previous.items():
        with contextlib.suppress(OSError):
            _sysctl(key, value)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _started(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot), so a reused PID is not taken for its
    predecessor; None when it does not run."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _ours(pid: int, run_dir: Path) -> bool:
    """Whether `pid` is still a process of this run (its command line names the run dir), so a
    reused PID is never signalled."""
    return any(str(run_dir) in arg for arg in _cmdline(pid))


def pod_pids() -> list[int]:
    """Processes in the kubelet's pod cgroups (one real node per machine: they are ours)."""
    found = []
    for pid in _pids():
        with contextlib.suppress(OSError):
            if ":/kubepods" in Path(f"/proc/{pid}/cgroup").read_text():
                found.append(pid)
    return found


def shim_pids(paths: Paths) -> list[int]:
    """containerd's runc shims for this run's containerd (they name its socket)."""
    return [
        pid
        for pid in _pids()
        if (argv := _cmdline(pid)) and argv[0].endswith("containerd-shim-runc-v2") and str(paths.socket) in argv
    ]


def _kill(pids: list[int]) -> None:
    """SIGKILL `pids` and wait until they are dead (they may stay zombies: a dead shim's
    orphans are PID 1's to reap, so only their state says they stopped running)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for _ in poll(10.0, 0.05):
        if not any(processes.alive(pid) for pid in pids):
            return


def _unmount_all(run_dir: Path) -> None:
    """Lazily unmount everything mounted under the run directory, deepest first: rootfs
    overlays, network namespaces, the kubelet's volume mounts."""
    prefix = str(run_dir.resolve()) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            points.append(point)
    for point in sorted(set(points), key=lambda p: p.count("/"), reverse=True):
        _ok(["umount", "--lazy", point])


def _remove_pod_cgroups() -> None:
    for top in Path("/sys/fs/cgroup").iterdir():
        root = top / "kubepods"
        if root.is_dir():
            for path in sorted(root.glob("**/"), key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    path.rmdir()


def _ctr(bins: dict[str, Path], paths: Paths, *args: str) -> list[str]:
    return [str(bins["containerd"] / "ctr"), "--address", str(paths.socket), "--namespace", "k8s.io", *args]


def _kill_tasks(bins: dict[str, Path], paths: Paths) -> None:
    """While containerd runs: SIGKILL every container and remove the tasks, so the shims end."""
    if not paths.socket.exists() or not _ok(_ctr(bins, paths, "version")):
        return
    listed = _run(_ctr(bins, paths, "tasks", "list", "--quiet"), check=False)
    for task in listed.stdout.split():
        _ok(_ctr(bins, paths, "tasks", "kill", "--all", "--signal", "SIGKILL", task))
    for task in listed.stdout.split():
        _ok(_ctr(bins, paths, "tasks", "delete", "--force", task))


def cleanup(run_dir: Path, pids: dict[str, int], bins: dict[str, Path]) -> None:
    """Tear the node of `run_dir` down, from whatever is left of it (a clean stop, `cps1 dev
    down` or the debris of a crash): the agents by PID, the containers through containerd,
    containerd and its shims by PID, the pods' processes, mounts, network namespaces, the
    bridge, the iptables rules of kube-proxy, kube-router and CPS1, the pod cgroups."""
    paths = Paths(run_dir)
    for name in reversed(AGENTS[1:]):  # the agents before containerd, newest first
        if (pid := pids.get(name)) and _ours(pid, run_dir):
            processes.stop_pid(pid)
    _kill_tasks(bins, paths)
    if (pid := pids.get("containerd")) and _ours(pid, run_dir):
        processes.stop_pid(pid)
    _kill(shim_pids(paths))
    _kill(pod_pids())
    _unmount_all(run_dir)
    for runtime_state in (paths.root / "containerd" / "state", paths.root / "cni" / "ipam"):
        shutil.rmtree(runtime_state, ignore_errors=True)  # of dead sandboxes only, now
    claim = _read_claim()
    _network_down(claim.get("sysctls", {}) if claim.get("run_dir") == str(run_dir) else {})
    _remove_pod_cgroups()
    for link in Path("/var/log/containers").glob("*.log"):
        with contextlib.suppress(OSError):
            if str(run_dir) in os.readlink(link):
                link.unlink()
    _release_claim(run_dir)


def _read_claim() -> dict:
    try:
        return json.loads((CLAIM_DIR / "node.json").read_text())
    except (OSError, ValueError):
        return {}


def _release_claim(run_dir: Path) -> None:
    if _read_claim().get("run_dir") == str(run_dir):
        (CLAIM_DIR / "node.json").unlink(missing_ok=True)


def _saved_pids(run_dir: Path) -> dict[str, int]:
    try:
        return json.loads((run_dir / "state.json").read_text())["pids"]
    except (OSError, ValueError, KeyError):
        return {}


def _claim(run_dir: Path, bins: dict[str, Path]) -> None:
    """Take this machine's real node for `run_dir`: refuse while another run's node lives;
    clean up after one that crashed."""
    if os.geteuid() != 0:
        raise NodeBusy(
            "the real node needs root (a bridge, iptables rules, mounts): run as root, "
            "or without it (`cps1 dev up --no-real-node`)"
        )
    CLAIM_DIR.mkdir(parents=True, exist_ok=True)
    with open(CLAIM_DIR / "node.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = _read_claim()
        if old:
            old_dir = Path(old["run_dir"])
            pids = _saved_pids(old_dir)
            alive = [n for n, pid in pids.items() if n in ("containerd", "kubelet") and _ours(pid, old_dir)]
            owner, started = old.get("owner", 0), _started(old.get("owner", 0))
            if alive or (owner != os.getpid() and started is not None and started == old.get("owner_started")):
                raise NodeBusy(
                    f"a real node already runs on this machine from {old_dir} (pid {owner}, {alive}); "
                    "kube-proxy and kube-router own the host's iptables, so one runs at a time: stop it first"
                )
            cleanup(old_dir, pids, bins)
        sysctls = _network_up()
        me = os.getpid()
        claim = {"run_dir": str(run_dir), "owner": me, "owner_started": _started(me), "sysctls": sysctls}
        (CLAIM_DIR / "node.json").write_text(json.dumps(claim))


def import_image(cluster: "LocalCluster", archive: Path) -> None:
    """Import an OCI archive into the node's containerd (pods use it with IfNotPresent/Never)."""
    bins = node_binaries()
    _run(_ctr(bins, Paths(cluster.run_dir), "images", "import", str(archive)), timeout=600)


def tag_image(cluster: "LocalCluster", source: str, target: str) -> None:
    """Give an imported image a second name (a "new" image for an upgrade, without a rebuild)."""
    _run(_ctr(node_binaries(), Paths(cluster.run_dir), "images", "tag", "--force", source, target))


def static_image(name: str) -> str:
    """The reference of one of our static images (images/NAME), as imported into the node."""
    return (node_binaries()["static-images"] / f"{name}.ref").read_text().strip()


def _node_ready(client, name: str) -> bool:
    import kubeclient as kube

    node = kube.get(client, "v1", "Node", name) or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def start(cluster: "LocalCluster") -> None:
    """Start the node's processes as part of `cluster` (after its control plane) and wait
    until the node is Ready and kube-proxy and kube-router have programmed the host."""
    import kubeclient as kube

    bins = node_binaries()
    paths = Paths(cluster.run_dir)
    _claim(cluster.run_dir, bins)
    cluster.procs[:] = [p for p in cluster.procs if p.name not in AGENTS]  # a restart replaces them
    log = cluster.run_dir / "logs"
    _write_kubeconfigs(cluster, paths)
    paths.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    (paths.cni_conf_dir / "10-cps1.conflist").write_text(json.dumps(cni_conflist(paths), indent=2))
    sandbox = static_image("pause")
    paths.containerd_config.write_text(containerd_config(paths, bins, sandbox))
    system_path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    cluster.launch(
        Process(
            "containerd",
            [str(bins["containerd"] / "containerd"), f"--config={paths.containerd_config}", "--log-level=warn"],
            log / "containerd.log",
            {"PATH": f"{bins['containerd']}:{system_path}"},
            lambda: _ok(_ctr(bins, paths, "version")),
        )
    )
    for name in ("pause", "netcheck"):
        import_image(cluster, bins["static-images"] / f"{name}.tar")
    healthz = free_port()
    (paths.root / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(paths, healthz)))
    cluster.launch(
        Process(
            "kubelet",
            [
                str(bins["kubelet"] / "kubelet"),
                f"--config={paths.root / 'kubelet.yaml'}",
                f"--kubeconfig={paths.kubeconfig('kubelet')}",
                f"--root-dir={paths.root / 'kubelet'}",
                f"--cert-dir={paths.pki}",
                f"--hostname-override={NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
            log / "kubelet.log",
            {},
            lambda: http_ok(f"http://{LOOPBACK}:{healthz}/healthz"),
        )
    )
    with kube.connected(cluster.kubeconfig) as client:
        kube.wait_for(
            lambda: kube.exists(client, "v1", "Node", NAME),
            cluster.timeout,
            f"kubelet did not register node {NAME}; last lines of {log / 'kubelet.log'}:\n"
            f"{processes.tail(log / 'kubelet.log')}",
        )
        kube.resource(client, "v1", "Node").patch(
            name=NAME,
            body={"spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]}},
            content_type="application/merge-patch+json",
        )
        kube.wait_for(
            lambda: _node_ready(client, NAME),
            cluster.timeout,
            f"kubelet did not make node {NAME} Ready; last lines of {log / 'kubelet.log'}:\n"
            f"{processes.tail(log / 'kubelet.log')}\nand of {log / 'containerd.log'}:\n"
            f"{processes.tail(log / 'containerd.log')}",
        )
        for doc in KUBE_ROUTER_RBAC:  # kube-router, started below, reads with these
            kube.apply(client, doc)
    proxy_healthz, proxy_metrics = free_port(), free_port()
    (paths.root / "kube-proxy.yaml").write_text(yaml.safe_dump(kube_proxy_config(paths, proxy_healthz, proxy_metrics)))
    cluster.launch(
        Process(
            "kube-proxy",
            [str(bins["kubelet"] / "kube-proxy"), f"--config={paths.root / 'kube-proxy.yaml'}", "--v=1"],
            log / "kube-proxy.log",
            {},
            lambda: http_ok(f"http://{LOOPBACK}:{proxy_healthz}/healthz"),
        )
    )
    cluster.launch(
        Process(
            "kube-router",
            [
                str(bins["kube-router"] / "kube-router"),
                f"--kubeconfig={paths.kubeconfig('kube-router')}",
                f"--hostname-override={NAME}",
                "--run-firewall=true",
                "--run-router=false",
                "--run-service-proxy=false",
                "--enable-ipv6=false",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--health-port=0",
                "--metrics-port=0",
                "--v=0",
            ],
            log / "kube-router.log",
            {},
            lambda: _ok(["iptables", "-w", "-n", "-L", "KUBE-ROUTER-FORWARD"]),
        )
    )


def stop(cluster: "LocalCluster") -> None:
    """Stop the node's processes and clean up after them (only when this run holds the node:
    after NodeBusy, the other run's node is left alone); the control plane keeps running."""
    if _read_claim().get("run_dir") == str(cluster.run_dir):
        cleanup(cluster.run_dir, {p.name: p.pid for p in cluster.procs if p.pid}, node_binaries())
    for name in reversed(AGENTS):
        with contextlib.suppress(StopIteration):
            cluster.process(name).stop()
