"""A real Kubernetes control plane on 127.0.0.1, for the tests and for `cps1 dev`.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (simulated nodes whose
pods become Ready) and upstream Metacontroller, from binaries built by build.sh. Every
listener is on 127.0.0.1 on a port the kernel picked; nothing here dials a pod or Service IP.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cps1.localcluster import credentials, node, processes, provisioner
from cps1.localcluster.processes import LOOPBACK, Process, free_port, http_ok

BUILD_SCRIPT = Path(__file__).with_name("build.sh")
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat/node-heartbeat.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
# The default StorageClass of kwok-only clusters: kube-controller-manager's built-in host-path
# provisioner (enabled by --enable-hostpath-provisioner), real dynamic provisioning for one machine.
STORAGE_CLASS = provisioner.storage_class("kubernetes.io/host-path")


def binaries(components: tuple[str, ...] = ("kubernetes", "etcd", "kwok", "metacontroller")) -> dict[str, Path]:
    """Directories of the built components, building what is missing (slow only when cold)."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), *components], check=True, stdout=subprocess.PIPE, text=True).stdout
    dirs = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {name: Path(path) for name, path in dirs.items()}


def metacontroller_flags(*, workers: int, qps: float, burst: int) -> list[str]:
    """Metacontroller v4's options, chosen for a local cluster (the chart's differ where said).

    Discovery every 2 s (the chart: 20 s) because the tests install CRDs after it starts; one
    event per second per object (upstream: one per 5 min) so a test sees each SyncError; no
    leader election (one replica here; the chart turns it on); pprof off.
    """
    return [
        "--discovery-interval=2s",
        "--cache-flush-interval=30m",
        f"--workers={workers}",
        f"--client-go-qps={qps}",
        f"--client-go-burst={burst}",
        "--events-qps=1",
        "--pprof-address=0",
    ]


def node_manifest(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake"},
        },
        "status": {
            "allocatable": {"cpu": "256", "memory": "1Ti", "pods": "1000"},
            "capacity": {"cpu": "256", "memory": "1Ti", "pods": "1000"},
            "addresses": [{"type": "Hostname", "address": "localhost"}],
        },
    }


@dataclass
class LocalCluster:
    """One control plane in `run_dir`; `start()` brings it up, `stop()` ends every process."""

    run_dir: Path
    nodes: int = 1
    metacontroller_workers: int = 10
    metacontroller_qps: float = 50
    metacontroller_burst: int = 100
    timeout: float = 90.0
    real_node: bool = False
    # False: no Metacontroller host process (CPS1's chart brings its own, incluster.py).
    metacontroller: bool = True
    procs: list[Process] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    token: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.ports['apiserver']}"

    def _log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def _write_credentials(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.run_dir / "sa.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        self.token = secrets.token_hex(24)
        lines = [f"{self.token},admin,admin,system:masters\n", *(node.prepare(self.run_dir) if self.real_node else [])]
        (self.run_dir / "tokens.csv").write_text("".join(lines))
        os.chmod(self.run_dir / "sa.key", 0o600)
        os.chmod(self.run_dir / "tokens.csv", 0o600)

    def _write_kubeconfig(self) -> None:
        config = credentials.kubeconfig(self.server, self.run_dir / "certs" / "apiserver.crt", self.token)
        self.kubeconfig.write_text(yaml.safe_dump(config))
        os.chmod(self.kubeconfig, 0o600)

    def launch(self, proc: Process) -> None:
        """Start a process as part of this cluster (stopped with it) and wait until ready."""
        self.procs.append(proc)
        proc.start()
        self._save_state()
        proc.wait_ready(self.timeout)

    def _save_state(self) -> None:
        state = {
            "pids": {p.name: p.pid for p in self.procs if p.pid},
            "ports": self.ports,
            "kubeconfig": str(self.kubeconfig),
        }
        (self.run_dir / "state.json").write_text(json.dumps(state, indent=2))

    def start(self) -> "LocalCluster":
        bins = binaries()
        k8s, run = bins["kubernetes"], self.run_dir
        run.mkdir(parents=True, exist_ok=True)
        (run / "home").mkdir(exist_ok=True)
        self._write_credentials()
        for name in (
            "etcd",
            "etcd-peer",
            "apiserver",
            "controller-manager",
            "scheduler",
            "metacontroller",
            "metacontroller-health",
        ):
            self.ports[name] = free_port()
        p = self.ports
        # kwok reads ~/.kwok/kwok.yaml when present: give every component an empty HOME.
        env = {"HOME": str(run / "home")}
        try:
            self.launch(
                Process(
                    "etcd",
                    [
                        str(bins["etcd"] / "etcd"),
                        "--name=node0",
                        f"--data-dir={run / 'etcd'}",
                        f"--listen-client-urls=http://{LOOPBACK}:{p['etcd']}",
                        f"--advertise-client-urls=http://{LOOPBACK}:{p['etcd']}",
                        f"--listen-peer-urls=http://{LOOPBACK}:{p['etcd-peer']}",
                        f"--initial-advertise-peer-urls=http://{LOOPBACK}:{p['etcd-peer']}",
                        f"--initial-cluster=node0=http://{LOOPBACK}:{p['etcd-peer']}",
                        "--unsafe-no-fsync=true",
                        "--auto-compaction-retention=1",
                        "--log-level=warn",
                    ],
                    self._log("etcd"),
                    env,
                    lambda: http_ok(f"http://{LOOPBACK}:{p['etcd']}/health"),
                )
            )
            self.launch(
                Process(
                    "kube-apiserver",
                    [
                        str(k8s / "kube-apiserver"),
                        f"--etcd-servers=http://{LOOPBACK}:{p['etcd']}",
                        f"--bind-address={LOOPBACK}",
                        f"--secure-port={p['apiserver']}",
                        f"--advertise-address={LOOPBACK}",
                        f"--cert-dir={run / 'certs'}",
                        f"--token-auth-file={run / 'tokens.csv'}",
                        "--authorization-mode=Node,RBAC",
                        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                        f"--service-account-key-file={run / 'sa.key'}",
                        f"--service-account-signing-key-file={run / 'sa.key'}",
                        f"--service-cluster-ip-range={node.SERVICE_CIDR}",
                        "--endpoint-reconciler-type=none",
                        "--kubelet-preferred-address-types=InternalIP,Hostname",
                        *(node.apiserver_flags(run) if self.real_node else []),
                        "--allow-privileged=true",
                        "--profiling=false",
                        "--v=1",
                    ],
                    self._log("kube-apiserver"),
                    env,
                    lambda: http_ok(f"https://{LOOPBACK}:{p['apiserver']}/readyz"),
                )
            )
            self._write_kubeconfig()
            kcfg = f"--kubeconfig={self.kubeconfig}"
            self.launch(
                Process(
                    "kube-controller-manager",
                    [
                        str(k8s / "kube-controller-manager"),
                        kcfg,
                        f"--bind-address={LOOPBACK}",
                        f"--secure-port={p['controller-manager']}",
                        "--leader-elect=false",
                        "--controllers=*",
                        f"--service-account-private-key-file={run / 'sa.key'}",
                        f"--root-ca-file={run / 'certs' / 'apiserver.crt'}",
                        "--enable-hostpath-provisioner=true",
                        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                        "--concurrent-gc-syncs=10",
                        "--concurrent-namespace-syncs=10",
                    ],
                    self._log("kube-controller-manager"),
                    env,
                    lambda: http_ok(f"https://{LOOPBACK}:{p['controller-manager']}/healthz"),
                )
            )
            self.launch(
                Process(
                    "kube-scheduler",
                    [
                        str(k8s / "kube-scheduler"),
                        kcfg,
                        f"--bind-address={LOOPBACK}",
                        f"--secure-port={p['scheduler']}",
                        "--leader-elect=false",
                        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
                    ],
                    self._log("kube-scheduler"),
                    env,
                    lambda: http_ok(f"https://{LOOPBACK}:{p['scheduler']}/healthz"),
                )
            )
            stages = [f"--config={bins['kwok'] / 'stages' / s}" for s in KWOK_STAGES]
            self.launch(
                Process(
                    "kwok",
                    [
                        str(bins["kwok"] / "kwok"),
                        kcfg,
                        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                        *stages,
                    ],
                    self._log("kwok"),
                    env,
                )
            )
            self._bootstrap(bins["metacontroller"])
            if self.metacontroller:
                self._launch_metacontroller(bins["metacontroller"], env)
            if self.real_node:
                node.start(self)
                self.launch(
                    Process(
                        "provisioner",
                        [
                            sys.executable,
                            "-m",
                            "cps1.localcluster.provisioner",
                            str(self.kubeconfig),
                            str(self.run_dir / "volumes"),
                            node.NAME,
                        ],
                        self._log("provisioner"),
                        env,
                    )
                )
        except BaseException:
            self.stop()
            raise
        return self

    def _launch_metacontroller(self, directory: Path, env: dict[str, str]) -> None:
        p = self.ports
        self.launch(
            Process(
                "metacontroller",
                [
                    str(directory / "metacontroller"),
                    *metacontroller_flags(
                        workers=self.metacontroller_workers,
                        qps=self.metacontroller_qps,
                        burst=self.metacontroller_burst,
                    ),
                    f"--metrics-address={LOOPBACK}:{p['metacontroller']}",
                    f"--health-probe-bind-address={LOOPBACK}:{p['metacontroller-health']}",
                ],
                self._log("metacontroller"),
                {**env, "KUBECONFIG": str(self.kubeconfig)},
                lambda: http_ok(f"http://{LOOPBACK}:{p['metacontroller-health']}/readyz"),
            )
        )

    def _bootstrap(self, metacontroller_dir: Path) -> None:
        """Nodes, the default StorageClass and Metacontroller's CRDs; waits for a Ready node."""
        import kubeclient as kube

        docs = list(yaml.safe_load_all((metacontroller_dir / "metacontroller-crds-v1.yaml").read_text()))
        kwok_nodes = [node.beside_real(node_manifest(f"kwok-node-{i}"), self.real_node) for i in range(self.nodes)]
        # Pods of the real node need volumes that honour fsGroup (provisioner.py says why).
        storage_class = provisioner.STORAGE_CLASS if self.real_node else STORAGE_CLASS
        with kube.connected(self.kubeconfig) as client:
            for doc in [*docs, storage_class, *kwok_nodes]:
                if doc:
                    kube.apply(client, doc)
            kube.wait_for(
                lambda: kube.nodes_ready(client, self.nodes, tolerated=(node.KWOK_TAINT["key"],)),
                self.timeout,
                f"kwok did not make {self.nodes} node(s) Ready and schedulable; last lines of "
                f"{self._log('kwok')}:\n{processes.tail(self._log('kwok'))}",
            )
            kube.wait_for(
                lambda: kube.exists(client, "v1", "ServiceAccount", "default", "default"),
                self.timeout,
                "kube-controller-manager did not create the default ServiceAccount; last lines of "
                f"{self._log('kube-controller-manager')}:\n"
                f"{processes.tail(self._log('kube-controller-manager'))}",
            )

    def stop(self) -> None:
        """Stop every process this cluster started, newest first, by PID."""
        if self.real_node:
            node.stop(self)
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        state = self.run_dir / "state.json"
        if state.exists():
            state.unlink()

    def process(self, name: str) -> Process:
        return next(p for p in self.procs if p.name == name)

    def kill(self, name: str) -> None:
        """Kill a component at once, as a crash would (SIGKILL, no grace); `revive` restarts it."""
        proc = self.process(name)
        proc.signal(signal.SIGKILL)
        proc.stop()

    def revive(self, name: str) -> None:
        """Start a stopped component again with the same flags and ports, and wait until ready."""
        proc = self.process(name)
        proc.start()
        self._save_state()
        proc.wait_ready(self.timeout)

    def logs(self) -> dict[str, str]:
        return {p.name: processes.tail(p.log, 200) for p in self.procs}

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
