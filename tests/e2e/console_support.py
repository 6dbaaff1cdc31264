"""What the console's end-to-end tests share: the real Workspace API under gunicorn on the
local control plane (started by PID, stopped by PID), users with tokens issued through it, and
the template the tests create workspaces from."""

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

import kubeclient as kube
from apiclient.client import ApiClient
from cps1.localcluster import install
from tests.support import workspaces as ws
from tests.support.cluster import Env

SYSTEM_NS = "cps1-console-test"
ADMIN = "root"
ADMIN_TOKEN = "cps1_c0c0c0c0c0c0_" + "a" * 40
PROXY_HEADER = "X-Forwarded-User"
PROXY_SECRET = "console-proxy-" + "s" * 20
TEMPLATE = "console-python"
APP = Path(__file__).resolve().parents[2] / "console" / "streamlit_app.py"


@contextlib.contextmanager
def running_api(env: Env, run_dir: Path) -> Iterator[str]:
    """The API (`api.wsgi:app`, 2 workers) with a bootstrap admin and the proxy header on, and
    the test template; yields its URL."""
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    ws.template(env, TEMPLATE)
    api, url = install.gunicorn_process(
        run_dir,
        {
            "CPS1_API_KUBECONFIG": str(env.cluster.kubeconfig),
            "CPS1_API_SYSTEM_NAMESPACE": SYSTEM_NS,
            "CPS1_API_BOOTSTRAP_ADMIN": ADMIN,
            "CPS1_API_BOOTSTRAP_TOKEN": ADMIN_TOKEN,
            "CPS1_API_PROXY_USER_HEADER": PROXY_HEADER,
            "CPS1_API_PROXY_SECRET": PROXY_SECRET,
        },
        app="api.wsgi:app",
    )
    api.start()
    try:
        api.wait_ready(60)
        yield url
    finally:
        api.stop()


def registered_fragments(at: AppTest) -> set[str]:
    """The fragments Streamlit keeps for the session after the last run: the ones a browser's
    refresh timer may still rerun (see console/widgets.py `halt`). Streamlit has no public view
    of them; AppTest holds the storage its runs share."""
    return set(at._fragment_storage._fragments)


def admin(api_url: str) -> ApiClient:
    """The API as the installation's first admin."""
    return ApiClient(api_url, token=ADMIN_TOKEN, timeout=30)


def user_token(api_url: str, name: str) -> str:
    """Create (or keep) user `name` and issue a fresh token for them, as an admin would."""
    api = admin(api_url)
    api.create_user(name)
    return str(api.issue_token(name, "console-e2e")["token"])


def sign_in(page: Page, token: str) -> None:
    """Sign in on the console's first page with an API token; back on My workspaces."""
    page.get_by_label("API token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My workspaces", exact=True)).to_be_visible()


def reveal_ide_password(page: Page) -> str:
    """The Workspace details' IDE password, as a user copies it (a 32-hex secret)."""
    # The details are a live fragment: mid-rerun Streamlit shows the old copy beside the new.
    expect(page.locator("[data-stale='true']")).to_have_count(0)
    page.get_by_text("Show IDE password", exact=True).first.click()
    shown = page.locator("code").filter(has_text=re.compile(r"^[0-9a-f]{32}$")).first
    expect(shown).to_be_visible()
    return shown.inner_text().strip()


def sign_in_to_code_server(ide: Page, password: str) -> None:
    """code-server's own login page, then its VS Code workbench (slow on a first start)."""
    ide.locator("input[type=password]").fill(password)
    ide.locator("input[type=submit], button[type=submit]").first.click()
    expect(ide.locator(".monaco-workbench")).to_be_visible(timeout=180_000)
