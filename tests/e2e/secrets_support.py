"""What the user-secrets end-to-end tests share: users with tokens made straight in the API's
store, and the real API app (in process, on the test's control plane) to call as each of them."""

from flask.testing import FlaskClient

import kubeclient as kube
from api.app import create_app
from api.settings import Settings
from api.store import Store
from tests.support.cluster import Env

SYSTEM_NS = "cps1-system"  # the hooks' default system namespace


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        answer = self.client.open(f"/api/v1{path}", method=method, headers=self.headers, json=body)
        return answer.status_code, answer.get_json(silent=True) or {}


def users(env: Env, names: tuple[str, ...]) -> dict[str, Api]:
    """The API as each of `names`. Users and tokens come straight from the store: the system
    namespace may have been bootstrapped by an earlier module with another first admin."""
    kube.apply(env.client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    store = Store(env.client, SYSTEM_NS)
    app = create_app(Settings(system_namespace=SYSTEM_NS), store)
    out = {}
    for name in names:
        store.ensure_user(name)
        out[name] = Api(app.test_client(), store.create_token(name, "e2e", None)[1])
    return out
