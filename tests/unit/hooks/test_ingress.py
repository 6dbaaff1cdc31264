"""The IDE's Ingress: a host of its own under the IDE domain, TLS by the controller's default
certificate (a Secret named in the settings would not exist in the Workspace's namespace)."""

from dataclasses import replace

from hooks import access, model
from hooks.render.ingress import render_ingress
from tests.unit.hooks import factories


def test_ide_hosts_use_tls_without_a_secret_from_another_namespace(python_template: dict) -> None:
    ws, _ = model.resolve(factories.parent(), python_template)
    assert ws is not None
    settings = replace(factories.SETTINGS, ide_domain="ws.example.com", ide_tls=True)
    spec = render_ingress(ws, settings)["spec"]
    assert spec["tls"] == [{"hosts": ["alice-dev.ws.example.com"]}]
    assert spec["rules"][0]["host"] == "alice-dev.ws.example.com"
    assert spec["rules"][0]["http"]["paths"][0]["path"] == "/"
    assert access.ide_url("alice-dev", settings) == "https://alice-dev.ws.example.com/"
