"""`cps1 login --oidc`: the OAuth 2.0 device authorization grant (RFC 8628) against the identity
provider the API names (GET /api/v1/oidc), then the ID token traded at the API for a CPS1
session token. The person confirms the code in any browser, on any machine; the CLI never sees
a password, and keeps no provider token (only the CPS1 session token, like `--token`).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from apiclient.client import ApiClient

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
HTTP_TIMEOUT = 15
SLOW_DOWN_SECONDS = 5


class DeviceLoginFailed(Exception):
    """The sign-in did not happen; the message says why, in the person's terms."""


@dataclass(frozen=True)
class Step:
    """What to do after one poll of the token endpoint."""

    wait: float = 0.0
    id_token: str = ""


def next_step(status: int, answer: dict[str, Any], interval: float) -> Step:
    """RFC 8628 section 3.5: keep waiting, wait longer, stop with the ID token, or fail."""
    if status == 200:
        if not answer.get("id_token"):
            raise DeviceLoginFailed("the identity provider sent no ID token (is the 'openid' scope allowed?)")
        return Step(id_token=str(answer["id_token"]))
    error = answer.get("error")
    if error == "authorization_pending":
        return Step(wait=interval)
    if error == "slow_down":
        return Step(wait=interval + SLOW_DOWN_SECONDS)
    if error == "access_denied":
        raise DeviceLoginFailed("the sign-in was denied in the browser")
    if error == "expired_token":
        raise DeviceLoginFailed("the code expired before it was confirmed; run `cps1 login --oidc` again")
    raise DeviceLoginFailed(f"the identity provider refused: {answer.get('error_description') or error or status}")


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def device_login(
    api: ApiClient, say: Callable[[str], None], sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Sign in through the API's identity provider; {user, token, expires} of the new session."""
    config = api.oidc_config()
    if not config.get("enabled") or not config.get("cliClientId"):
        raise DeviceLoginFailed("this CPS1 does not offer sign-in through an identity provider to the CLI")
    http = requests.Session()
    metadata = _json(http.get(config["issuer"].rstrip("/") + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT))
    if not metadata.get("device_authorization_endpoint"):
        raise DeviceLoginFailed(f"{config['issuer']} does not offer the device authorization grant")
    client = {"client_id": config["cliClientId"]}
    started = http.post(
        metadata["device_authorization_endpoint"],
        data={**client, "scope": config.get("scopes") or "openid"},
        timeout=HTTP_TIMEOUT,
    )
    grant = _json(started)
    if started.status_code != 200 or "device_code" not in grant:
        raise DeviceLoginFailed(f"the identity provider refused to start: {grant.get('error_description') or grant}")
    where = grant.get("verification_uri_complete") or grant["verification_uri"]
    say(f"To sign in, open {where} and confirm the code {grant['user_code']}")
    interval = float(grant.get("interval") or 5)
    deadline = time.monotonic() + float(grant.get("expires_in") or 600)
    while time.monotonic() < deadline:
        sleep(interval)
        polled = http.post(
            metadata["token_endpoint"],
            data={**client, "grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
            timeout=HTTP_TIMEOUT,
        )
        step = next_step(polled.status_code, _json(polled), interval)
        if step.id_token:
            return api.oidc_token(step.id_token)
        interval = step.wait
    raise DeviceLoginFailed("the code expired before it was confirmed; run `cps1 login --oidc` again")
