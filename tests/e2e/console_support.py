"""What the console's end-to-end tests share: the real Workspace API under gunicorn on the
local control plane (started by PID, stopped by PID), users with tokens issued through it, and
the template the tests create workspaces from."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

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


def admin(api_url: str) -> ApiClient:
    """The API as the installation's first admin."""
    return ApiClient(api_url, token=ADMIN_TOKEN, timeout=30)


def user_token(api_url: str, name: str) -> str:
    """Create (or keep) user `name` and issue a fresh token for them, as an admin would."""
    api = admin(api_url)
    api.create_user(name)
    return str(api.issue_token(name, "console-e2e")["token"])
