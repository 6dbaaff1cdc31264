"""Preview URLs in the chart (docs/preview-urls.md): off by default; on, the API gets the IDE
domain, the console as sign-in page and the signing key from a Secret, and the hooks point every
Workspace Ingress at the API Service's /preview/auth. The rendered environment is read back
with the services' own settings readers."""

import base64

import pytest

from api.settings import Settings as ApiSettings
from common import envconfig
from hooks.settings import Settings as HooksSettings
from tests.unit.chart.test_chart import CHART, by_name, render, run_helm
from tests.unit.chart.test_network_policies import RELEASE_NS, Peer, allowed, pod_labels

ON = "previews.enabled=true"


def env(docs: list[dict], deployment: str) -> dict[str, str]:
    """A Deployment's environment, each secretKeyRef read from the Secret the chart renders."""
    secrets = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "Secret"}
    out = {}
    for item in by_name(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]["env"]:
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            out[item["name"]] = item.get("value", "")
        elif ref["name"] in secrets:
            out[item["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
    return out


def test_off_by_default_nothing_of_previews_is_rendered() -> None:
    docs = render()
    assert not [name for name in env(docs, "-api") if name.startswith("CPS1_API_PREVIEW_")]
    assert "CPS1_HOOKS_FORWARD_AUTH_URL" not in env(docs, "-hooks")
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-preview")]


def test_on_the_api_checks_with_a_generated_key_and_the_hooks_ask_it() -> None:
    docs = render(None, ON)
    api_env = env(docs, "-api")
    settings = ApiSettings(**envconfig.values_from_env(ApiSettings, "CPS1_API_", api_env))
    settings.check()  # the API starts with what the chart gives it
    assert settings.preview_domain == "ws.cps1.example.com"
    assert settings.preview_sign_in_url == "http://cps1.example.com/"
    assert settings.preview_cache_seconds == 2.0
    assert len(settings.preview_secret) >= 32
    container = by_name(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    secret_item = next(e for e in container["env"] if e["name"] == "CPS1_API_PREVIEW_SECRET")
    assert secret_item == {
        "name": "CPS1_API_PREVIEW_SECRET",
        "valueFrom": {"secretKeyRef": {"name": "cps1-preview", "key": "secret"}},
    }
    assert by_name(docs, "Secret", "cps1-preview")["type"] == "Opaque"

    hooks = HooksSettings(**envconfig.values_from_env(HooksSettings, "CPS1_HOOKS_", env(docs, "-hooks")))
    service = by_name(docs, "Service", "-api")
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    assert hooks.forward_auth_url == f"http://{service['metadata']['name']}.{RELEASE_NS}.svc:{port}/preview/auth"
    assert hooks.ide_domain == settings.preview_domain


def test_an_existing_secret_a_sign_in_url_and_tls() -> None:
    docs = render(
        None,
        ON,
        "previews.existingSecret=my-preview-key",
        "previews.signInUrl=https://sso.example.com/cps1",
        "previews.cacheSeconds=5",
    )
    container = by_name(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    by_env = {e["name"]: e for e in container["env"]}
    assert by_env["CPS1_API_PREVIEW_SECRET"]["valueFrom"] == {
        "secretKeyRef": {"name": "my-preview-key", "key": "secret"}
    }
    assert by_env["CPS1_API_PREVIEW_SIGN_IN_URL"]["value"] == "https://sso.example.com/cps1"
    assert by_env["CPS1_API_PREVIEW_CACHE_SECONDS"]["value"] == "5"
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-preview")]
    tls = env(render(CHART / "ci" / "tls-values.yaml", ON), "-api")
    assert tls["CPS1_API_PREVIEW_SIGN_IN_URL"] == "https://cps1.example.com/"


def test_the_ingress_controller_may_ask_the_api() -> None:
    """The controller's forward-auth requests come from its namespace; the API's policy admits it."""
    docs = render(None, ON)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    api = Peer(pod_labels(docs, "Deployment", "-api"), RELEASE_NS, {"kubernetes.io/metadata.name": RELEASE_NS})
    controller = Peer(
        {"app.kubernetes.io/name": "ingress-nginx"}, "ingress-nginx", {"kubernetes.io/metadata.name": "ingress-nginx"}
    )
    workspace = Peer({"app.kubernetes.io/name": "workspace"}, "ws-dev", {"kubernetes.io/metadata.name": "ws-dev"})
    assert allowed(policies, controller, api, 8080)
    assert not allowed(policies, workspace, api, 8080)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ((ON, "workspaces.ideDomain="), "/workspaces/ideDomain"),
        ((ON, "console.enabled=false"), "previews.signInUrl"),
        (("previews.cacheSeconds=-1",), "/previews/cacheSeconds"),
        (("previews.signInUrl=console",), "/previews/signInUrl"),
        (("previews.enabled=yes",), "/previews/enabled"),
    ],
)
def test_bad_preview_values_are_refused(settings: tuple[str, ...], message: str) -> None:
    args = [item for setting in settings for item in ("--set", setting)]
    out = run_helm("template", "cps1", str(CHART), "--kube-version", "1.36.3", *args)
    assert out.returncode != 0
    assert message in out.stderr
