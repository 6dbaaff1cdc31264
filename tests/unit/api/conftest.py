"""The api's unit fixtures: an app over an in-memory store with an admin (root) and two users
(alice, who owns the stopped Workspace alice-ws, and bob), each calling with their own token."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.settings import Settings
from common import crd
from tests.unit.api.memory_store import MemoryStore

ROOT_TOKEN = "cps1_a1b2c3d4e5f6_" + "r" * 40
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


class Caller:
    """One user's requests (no token: anonymous)."""

    def __init__(self, client: FlaskClient, token: str = "") -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        answer = self.client.open(f"/api/v1{path}", method=method, headers=self.headers, json=body)
        return answer.status_code, answer.get_json(silent=True) or {}


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.save_template(
        {
            "apiVersion": crd.API_VERSION,
            "kind": crd.TEMPLATE_KIND,
            "metadata": {"name": "go", "resourceVersion": "1"},
            "spec": {
                "image": "cps1/workspace-go:0.1.0",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                "parameters": [{"name": "cores", "type": "quantity", "bindTo": "cpu", "default": "1", "max": "8"}],
            },
        },
        create=True,
    )
    return store


SETTINGS = Settings(system_namespace="cps1-system", bootstrap_admin="root", bootstrap_token=ROOT_TOKEN)


@pytest.fixture
def settings() -> Settings:
    """The api's settings; a test parametrizes `settings` to change them."""
    return SETTINGS


@pytest.fixture
def callers(store: MemoryStore, settings: Settings) -> Iterator[dict[str, Caller]]:
    app = create_app(settings, store, clock=lambda: NOW)  # type: ignore[arg-type]  # memory_store stands in for api.store.Store
    client = app.test_client()
    out = {"anonymous": Caller(client), "root": Caller(client, ROOT_TOKEN)}
    for name in ("alice", "bob"):
        assert out["root"]("POST", "/users", {"name": name})[0] == 201
        status, token = out["root"]("POST", f"/users/{name}/tokens", {"name": "unit"})
        assert status == 201
        out[name] = Caller(client, token["token"])
    assert out["alice"]("POST", "/workspaces", {"name": "alice-ws", "template": "go", "running": False})[0] == 201
    yield out
