"""The Workspace Secret: code-server password, sshd host key, the gateway's authorized key.

Values must not change between syncs. They are read back from the observed Secret when it
exists, and otherwise derived from the Workspace UID with HMAC under the installation's seed,
so two syncs racing before the Secret is observed still agree.
"""

import base64
import hashlib
import hmac
import struct
import textwrap
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import names
from hooks.model import WorkspaceModel

PASSWORD = names.SECRET_IDE_PASSWORD
HOST_KEY = "ssh_host_ed25519_key"
HOST_KEY_PUB = "ssh_host_ed25519_key.pub"
AUTHORIZED_KEYS = "authorized_keys"


def _derive(seed: str, uid: str, purpose: str) -> bytes:
    return hmac.new(seed.encode(), f"{uid}/{purpose}".encode(), hashlib.sha256).digest()


def _with_check(openssh_pem: bytes, check: bytes) -> str:
    """The OpenSSH private key with its two "checkint" words set to `check`.

    The format stores a random 32-bit value twice so a decryption can be verified; for an
    unencrypted key its value is arbitrary, and fixing it makes the serialisation stable.
    """
    lines = openssh_pem.decode().strip().splitlines()
    blob = bytearray(base64.b64decode("".join(lines[1:-1])))
    offset = len(b"openssh-key-v1\0")
    for _ in range(3):  # cipher name, kdf name, kdf options
        offset += 4 + struct.unpack(">I", blob[offset : offset + 4])[0]
    offset += 4  # number of keys
    offset += 4 + struct.unpack(">I", blob[offset : offset + 4])[0]  # public key
    offset += 4  # length of the private section, which starts with the two check words
    blob[offset : offset + 8] = check[:4] * 2
    body = textwrap.wrap(base64.b64encode(bytes(blob)).decode(), 70)
    return "\n".join([lines[0], *body, lines[-1]]) + "\n"


def _host_key_pair(seed: str, uid: str) -> tuple[str, str]:
    key = Ed25519PrivateKey.from_private_bytes(_derive(seed, uid, "ssh-host-ed25519"))
    private = _with_check(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
        _derive(seed, uid, "ssh-host-ed25519-check"),
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return private, public + "\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def render_secret(ws: WorkspaceModel, seed: str, gateway_key: str, observed: dict[str, Any] | None) -> dict[str, Any]:
    kept = (observed or {}).get("data") or {}
    data = {AUTHORIZED_KEYS: _b64(gateway_key.strip() + "\n" if gateway_key.strip() else "")}
    if kept.get(PASSWORD):
        data[PASSWORD] = kept[PASSWORD]
    else:
        data[PASSWORD] = _b64(_derive(seed, ws.uid, "password").hex()[:32])
    if kept.get(HOST_KEY) and kept.get(HOST_KEY_PUB):
        data[HOST_KEY], data[HOST_KEY_PUB] = kept[HOST_KEY], kept[HOST_KEY_PUB]
    else:
        private, public = _host_key_pair(seed, ws.uid)
        data[HOST_KEY], data[HOST_KEY_PUB] = _b64(private), _b64(public)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": ws.metadata(names.SECRET, "secret"),
        "type": "Opaque",
        "data": dict(sorted(data.items())),
    }
