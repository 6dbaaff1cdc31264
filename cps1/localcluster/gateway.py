"""The SSH gateway as a host process of a local cluster (`cps1 dev up`, the real-node tests).

Outside the cluster there is no cluster DNS, so the gateway reaches each Workspace's sshd by
its Service's cluster IP (`{service_ip}:22`, read from the API; kube-proxy routes it to the pod).
Its keys are made once per state directory: the upstream key pair (the hooks put the public
half in every Workspace) and the host key Secret in the system namespace (`cps1 gateway-keygen`).
"""

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cps1 import keygen
from cps1.localcluster.processes import LOOPBACK, Process, free_port, http_ok

HOST_KEY_SECRET = "cps1-gateway-host-key"
PREFERRED_PORT = 2222


@dataclass(frozen=True)
class GatewayKeys:
    private_key_file: Path
    public_line: str


def upstream_keys(run_dir: Path) -> GatewayKeys:
    """The gateway's upstream key pair, made on first use and kept (0600) in `run_dir`: the
    Workspaces' authorized_keys must keep matching it across restarts."""
    private, public = run_dir / "gateway_upstream_key", run_dir / "gateway_upstream_key.pub"
    if not private.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        data = keygen.upstream_key_data()
        with os.fdopen(os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(data["id_ed25519"])
        public.write_text(data["id_ed25519.pub"])
    return GatewayKeys(private, public.read_text().strip())


def pick_port() -> int:
    """2222 (what `cps1 ws ssh-config` users expect) when free, else a port the kernel picks."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, PREFERRED_PORT))
        except OSError:
            return free_port()
    return PREFERRED_PORT


def gateway_process(run_dir: Path, kubeconfig: Path, system_namespace: str, keys: GatewayKeys, port: int) -> Process:
    """`python -m gateway` on 127.0.0.1:`port`, ready when its side port's /readyz answers."""
    health = free_port()
    env = {
        "CPS1_GATEWAY_LISTEN": f"{LOOPBACK}:{port}",
        "CPS1_GATEWAY_HEALTH_LISTEN": f"{LOOPBACK}:{health}",
        "CPS1_GATEWAY_KUBECONFIG": str(kubeconfig),
        "CPS1_GATEWAY_SYSTEM_NAMESPACE": system_namespace,
        "CPS1_GATEWAY_HOST_KEY_SECRET": HOST_KEY_SECRET,
        "CPS1_GATEWAY_UPSTREAM": "{service_ip}:22",
        "CPS1_GATEWAY_UPSTREAM_KEY_FILE": str(keys.private_key_file),
    }
    return Process(
        "gateway",
        [sys.executable, "-m", "gateway"],
        run_dir / "logs" / "gateway.log",
        env,
        lambda: http_ok(f"http://{LOOPBACK}:{health}/readyz"),
    )


def ensure_host_key(client, system_namespace: str) -> None:
    keygen.ensure_secret(client, system_namespace, HOST_KEY_SECRET, keygen.host_key_data)
