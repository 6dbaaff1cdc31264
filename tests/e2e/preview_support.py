"""What the preview-URL e2e tests share: the API with previews on (started by PID, stopped by
PID), users with tokens, and the three ways a URL is opened: signed out (no cookie, redirects
not followed), and in headless Chromium through a grant as a signed-in user."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import requests
from playwright.sync_api import Browser

import kubeclient as kube
from apiclient.client import ApiClient
from apiclient.errors import ApiError
from cps1.localcluster import ingress, install
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import Process
from tests.e2e import console_support

SIGN_IN = "http://console.localhost:1/"
SECRET = "preview-e2e-" + "k" * 24


def api_process(cluster: LocalCluster, run_dir: Path) -> tuple[Process, str]:
    """The API (not started) with previews on for the local ingress's `*.localhost` hosts."""
    return install.gunicorn_process(
        run_dir,
        {
            "CPS1_API_KUBECONFIG": str(cluster.kubeconfig),
            "CPS1_API_SYSTEM_NAMESPACE": console_support.SYSTEM_NS,
            "CPS1_API_BOOTSTRAP_ADMIN": console_support.ADMIN,
            "CPS1_API_BOOTSTRAP_TOKEN": console_support.ADMIN_TOKEN,
            "CPS1_API_PREVIEW_DOMAIN": ingress.LOCAL_DOMAIN,
            "CPS1_API_PREVIEW_SECRET": SECRET,
            "CPS1_API_PREVIEW_SIGN_IN_URL": SIGN_IN,
        },
        app="api.wsgi:app",
    )


@contextlib.contextmanager
def running(api: Process, url: str, client) -> Iterator[dict[str, ApiClient]]:
    """Start the API; yield alice's and bob's clients; stop it by PID."""
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": console_support.SYSTEM_NS}})
    api.start()
    try:
        api.wait_ready(60)
        yield {
            name: ApiClient(url, token=console_support.user_token(url, name), timeout=30) for name in ("alice", "bob")
        }
    finally:
        api.stop()


def url_of(ing: ingress.Ingress, workspace: str, port: int | None) -> str:
    host = f"{port}--{workspace}" if port else workspace
    return f"http://{host}.{ingress.LOCAL_DOMAIN}:{ing.port}/"


def anonymous(url: str) -> requests.Response:
    """A signed-out client: no cookie, redirects not followed (Host set by hand; Chromium
    resolves *.localhost to loopback by itself)."""
    host = url.split("://", 1)[1].split("/", 1)[0]
    port = host.rsplit(":", 1)[1]
    return requests.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, allow_redirects=False, timeout=10)


def opens(browser: Browser, client: ApiClient, url: str) -> tuple[int, str]:
    """(status, body text) of `url` in a fresh Chromium context signed in as `client`'s user
    through a grant; (404, "") when the API refuses the grant (not shared with them)."""
    try:
        link = client.preview_grant(url)
    except ApiError as err:
        if err.status == 404:
            return 404, ""
        raise
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(link)
        assert response is not None
        return response.status, page.inner_text("body")
    finally:
        context.close()


def audit_lines(api: Process, action: str) -> list[str]:
    return [line for line in api.log.read_text().splitlines() if f'"action": "{action}"' in line]
