"""A real OpenID Provider on loopback (oidc-provider, oidc_provider/provider.mjs) for the tests
and `cps1 dev up`: installed by `npm ci` from its lock file into the cache, started by PID with
the clients and test accounts it is given, ready when its discovery document answers.

`python -m cps1.localcluster.idp` installs it (`make setup` runs that)."""

import hashlib
import json
import secrets
import shutil
import subprocess
from pathlib import Path

from cps1.localcluster import processes
from cps1.localcluster.images import CACHE

SOURCE = Path(__file__).with_name("oidc_provider")
CLIENT_ID = "cps1"
CLI_CLIENT_ID = "cps1-cli"
# A CLI client the provider does not allow the device grant: `cps1 login --oidc` falls back to
# the loopback redirect (the tests check it does).
BROWSER_CLI_CLIENT_ID = "cps1-cli-browser"
ADMIN_GROUP = "platform-admins"
PROVIDER_NAME = "the local IdP"
FILES = ("package.json", "package-lock.json", "provider.mjs")
# Local accounts for `cps1 dev up` and the tests; any password signs them in.
ACCOUNTS: dict[str, dict[str, object]] = {
    "alice": {
        "preferred_username": "alice",
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Admin",
        "groups": ["platform-admins", "developers"],
    },
    "bob": {
        "preferred_username": "bob",
        "email": "bob@example.com",
        "email_verified": True,
        "name": "Bob Builder",
        "groups": ["developers"],
    },
    "carol": {
        "preferred_username": "carol",
        "email": "carol@example.com",
        "email_verified": True,
        "name": "Carol Contractor",
        "groups": ["contractors"],
    },
}


def install_dir() -> Path:
    """Where this version of the provider is installed: keyed by its files' contents."""
    digest = hashlib.sha256(b"".join((SOURCE / name).read_bytes() for name in FILES)).hexdigest()[:16]
    return CACHE / "oidc-provider" / digest


def install() -> Path:
    """`npm ci` the provider into the cache unless this version is there already."""
    target = install_dir()
    if (target / "node_modules" / "oidc-provider").is_dir():
        return target
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(SOURCE / name, staging / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], cwd=staging, check=True
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def web_client(client_id: str, secret: str, redirect_uris: list[str], logout_uris: list[str]) -> dict[str, object]:
    """A confidential client for the authorization code flow (the API)."""
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": logout_uris,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }


def cli_client(client_id: str, device_grant: bool = True) -> dict[str, object]:
    """A public native client (the CLI): the device authorization grant, and the authorization
    code flow with PKCE to a loopback redirect on any port (RFC 8252 section 7.3)."""
    device = ["urn:ietf:params:oauth:grant-type:device_code"] if device_grant else []
    return {
        "client_id": client_id,
        "application_type": "native",
        "grant_types": [*device, "authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [f"http://{processes.LOOPBACK}/callback"],
        "token_endpoint_auth_method": "none",
    }


def provider_process(
    run_dir: Path, clients: list[dict[str, object]], accounts: dict[str, dict[str, object]] | None = None
) -> tuple[processes.Process, str]:
    """The provider on a free loopback port with `clients` and `accounts` (ACCOUNTS by
    default), and its issuer URL."""
    home = install()
    port = processes.free_port()
    issuer = f"http://{processes.LOOPBACK}:{port}"
    config = run_dir / f"oidc-provider-{port}.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"port": port, "clients": clients, "accounts": accounts or ACCOUNTS}))
    proc = processes.Process(
        "oidc-provider",
        ["node", str(home / "provider.mjs"), str(config)],
        run_dir / "logs" / f"oidc-provider-{port}.log",
        {"NODE_ENV": "development"},
        lambda: processes.http_ok(f"{issuer}/.well-known/openid-configuration"),
    )
    return proc, issuer


def local_provider(run_dir: Path, api_url: str, console_url: str) -> tuple[processes.Process, dict[str, str]]:
    """The provider with CPS1's clients (the API's, the CLI's, and a CLI one without the device
    grant), and the API's environment
    that signs people in through it (members of ADMIN_GROUP are admins)."""
    secret = secrets.token_urlsafe(32)
    proc, issuer = provider_process(
        run_dir,
        [
            web_client(CLIENT_ID, secret, [f"{api_url}/api/v1/oidc/callback"], [console_url]),
            cli_client(CLI_CLIENT_ID),
            cli_client(BROWSER_CLI_CLIENT_ID, device_grant=False),
        ],
    )
    env = {
        "CPS1_API_OIDC_ISSUER": issuer,
        "CPS1_API_OIDC_CLIENT_ID": CLIENT_ID,
        "CPS1_API_OIDC_CLIENT_SECRET": secret,
        "CPS1_API_OIDC_CLI_CLIENT_ID": CLI_CLIENT_ID,
        "CPS1_API_OIDC_ADMIN_GROUPS": ADMIN_GROUP,
        "CPS1_API_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "CPS1_API_PUBLIC_URL": api_url,
        "CPS1_API_CONSOLE_URL": console_url,
        "CPS1_API_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
    }
    return proc, env


if __name__ == "__main__":
    print(install())
