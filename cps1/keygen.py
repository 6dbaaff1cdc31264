"""`cps1 gateway-keygen`: the gateway's SSH keys, each made once in a Secret.

The chart runs it as a pre-install hook. The upstream key pair: the hooks read the public half
and put it in every Workspace, the gateway mounts the private half. The host key: made here so
the gateway itself needs no right to create Secrets (whoever can create Secrets in the system
namespace could plant API tokens). An existing Secret is left alone, so upgrades never rotate
a key under running Workspaces or known_hosts files.
"""

import argparse
import base64
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes.dynamic.exceptions import ConflictError

import kubeclient as kube

# The field the gateway reads its host key from (gateway/keys.py HOST_KEY).
HOST_KEY = "ssh_host_ed25519_key"


def key_pair(comment: str = "cps1-gateway") -> tuple[str, str]:
    """(OpenSSH private key, authorized_keys line) of a new Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}\n"


def upstream_key_data() -> dict[str, str]:
    private, public = key_pair()
    return {"id_ed25519": private, "id_ed25519.pub": public}


def host_key_data() -> dict[str, str]:
    private, _ = key_pair()
    return {HOST_KEY: private}


def ensure_secret(client, namespace: str, name: str, make: Callable[[], dict[str, str]]) -> bool:
    """Create the Secret with `make()`'s keys unless it exists; returns whether it was created."""
    if kube.get(client, "v1", "Secret", name, namespace):
        return False
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "cps1"}},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in make().items()},
    }
    try:
        kube.resource(client, "v1", "Secret").create(body=body, namespace=namespace)
    except ConflictError:  # another run made it meanwhile
        return False
    return True


def run(args: argparse.Namespace) -> int:
    wanted = [(args.secret, upstream_key_data)]
    if args.host_key_secret:
        wanted.append((args.host_key_secret, host_key_data))
    with kube.connected(args.kubeconfig) as client:
        for name, make in wanted:
            created = ensure_secret(client, args.namespace, name, make)
            print(f"secret {args.namespace}/{name} {'created' if created else 'already exists; left as it is'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("gateway-keygen", help="make the gateway's upstream key Secret if missing")
    cmd.add_argument("--namespace", required=True)
    cmd.add_argument("--secret", required=True, help="the upstream key pair's Secret")
    cmd.add_argument("--host-key-secret", default="", help="the gateway host key's Secret")
    cmd.add_argument("--kubeconfig", default="", help="default: in-cluster, else $KUBECONFIG")
    cmd.set_defaults(func=run)
