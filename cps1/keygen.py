"""`cps1 gateway-keygen`: the gateway's upstream SSH key pair, made once in a Secret.

The chart runs it as a pre-install hook; the hooks read the public half from the Secret and put
it in every Workspace, the gateway mounts the private half. An existing Secret is left alone,
so upgrades never rotate the key under running Workspaces.
"""

import argparse
import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes.dynamic.exceptions import ConflictError

from cps1 import kube


def key_pair(comment: str = "cps1-gateway") -> tuple[str, str]:
    """(OpenSSH private key, authorized_keys line) of a new Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}\n"


def ensure_secret(client, namespace: str, name: str) -> bool:  # type: ignore[no-untyped-def]
    """Create the key Secret unless it exists; returns whether it was created."""
    if kube.get(client, "v1", "Secret", name, namespace):
        return False
    private, public = key_pair()
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "cps1"}},
        "type": "Opaque",
        "data": {
            "id_ed25519": base64.b64encode(private.encode()).decode(),
            "id_ed25519.pub": base64.b64encode(public.encode()).decode(),
        },
    }
    try:
        kube.resource(client, "v1", "Secret").create(body=body, namespace=namespace)
    except ConflictError:  # another run made it meanwhile
        return False
    return True


def run(args: argparse.Namespace) -> int:
    created = ensure_secret(kube.dynamic_client(args.kubeconfig), args.namespace, args.secret)
    print(f"secret {args.namespace}/{args.secret} {'created' if created else 'already exists; left as it is'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("gateway-keygen", help="make the gateway's upstream key Secret if missing")
    cmd.add_argument("--namespace", required=True)
    cmd.add_argument("--secret", required=True)
    cmd.add_argument("--kubeconfig", default="", help="default: in-cluster, else $KUBECONFIG")
    cmd.set_defaults(func=run)
