"""SSH keys of the gateway: its host key (persisted so clients never see it change) and the
upstream key the hooks authorize in every Workspace.

The host key lives in a Secret in the system namespace. The first replica to start generates
it; a replica that loses the creation race reads the winner's, so all replicas present one key.
"""

import base64
import io
import logging
from pathlib import Path
from typing import Any, Protocol

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes.client.exceptions import ApiException

from gateway.routing import OfferedKey

log = logging.getLogger("cps1.gateway.keys")
HOST_KEY = "ssh_host_ed25519_key"
_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def generate_ed25519() -> str:
    """A new Ed25519 private key in OpenSSH format."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return pem.decode()


def load_private_key(text: str) -> paramiko.PKey:
    """An unencrypted private key (Ed25519, ECDSA or RSA) from its text."""
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("not an unencrypted Ed25519, ECDSA or RSA private key")


def load_private_key_file(path: str | Path) -> paramiko.PKey:
    return load_private_key(Path(path).read_text())


def public_line(key: paramiko.PKey) -> str:
    """The key as an authorized_keys line (`type base64`)."""
    return f"{key.get_name()} {key.get_base64()}"


def offered(key: paramiko.PKey) -> OfferedKey:
    return OfferedKey(key.get_name(), key.asbytes())


def matches_line(key: paramiko.PKey, line: str) -> bool:
    """Whether `key` is the public key written on an authorized_keys-style line."""
    parts = line.split()
    return len(parts) >= 2 and parts[1] == key.get_base64()


def _secret_body(namespace: str, name: str, private: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "cps1-gateway", "app.kubernetes.io/part-of": "cps1"},
        },
        "type": "Opaque",
        "data": {HOST_KEY: base64.b64encode(private.encode()).decode()},
    }


def _from_secret(secret: dict | None) -> paramiko.PKey | None:
    data = ((secret or {}).get("data") or {}).get(HOST_KEY)
    return load_private_key(base64.b64decode(data).decode()) if data else None


class SecretStore(Protocol):
    """The two reads and writes of Secrets the host key needs (gateway.cluster.Cluster has them)."""

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def create_secret(self, body: dict[str, Any]) -> dict[str, Any]: ...


def host_key(cluster: SecretStore, namespace: str, name: str, key_file: str = "") -> paramiko.PKey:
    """The gateway's host key: from `key_file` when given, else from the Secret, created once."""
    if key_file:
        return load_private_key_file(key_file)
    existing = _from_secret(cluster.secret(namespace, name))
    if existing is not None:
        return existing
    try:
        created = cluster.create_secret(_secret_body(namespace, name, generate_ed25519()))
    except ApiException as err:
        if err.status != 409:
            raise
        log.info("another gateway created the host key first; using it")
        created = cluster.secret(namespace, name) or {}
    else:
        log.info("generated a new host key", extra={"secret": f"{namespace}/{name}"})
    key = _from_secret(created)
    if key is None:
        raise RuntimeError(f"the host key Secret {namespace}/{name} holds no {HOST_KEY}")
    return key
