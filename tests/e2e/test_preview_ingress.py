"""Preview URLs through the real ingress controller (Caddy's forward_auth asking the real API)
in headless Chromium, without the real node: the Workspace is applied as YAML (the API server
holds it; no controller runs here), and its preview host is an Ingress like the hooks render,
pointing at an echo server in a network namespace of its own. The same flow with a real
Workspace pod is tests/e2e/test_preview_urls.py.
"""

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

import kubeclient as kube
from common import crd
from cps1.localcluster import ingress, install
from cps1.localcluster.cluster import LocalCluster, binaries
from tests.e2e import http_backend
from tests.e2e import preview_support as ps
from tests.support import workspaces as ws
from tests.support.cluster import wait_until

NAME, PORT, NS = "pvi", 3000, "preview-ingress-test"
# A /30 of its own, apart from the real node's pods and tests/e2e/test_ingress.py's backend.
HOST_SIDE, BACKEND_ADDRESS = "10.244.254.1/30", "10.244.254.2"


def workspace(share: str) -> dict:
    return {
        "apiVersion": crd.API_VERSION,
        "kind": crd.WORKSPACE_KIND,
        "metadata": {"name": NAME},
        "spec": {
            "owner": "alice",
            "template": ws.PYTHON["metadata"]["name"],
            "running": False,
            "ports": [{"port": PORT, "name": "web", "share": share}],
        },
    }


def published(auth_url: str, address: str, port: int) -> list[dict]:
    """A Service, its EndpointSlice and an Ingress with the forward-auth annotation for the
    IDE host and the preview host, as the hooks publish them."""
    hosts = {f"{NAME}.{ingress.LOCAL_DOMAIN}": "ide", f"{PORT}--{NAME}.{ingress.LOCAL_DOMAIN}": f"p{PORT}"}
    rules = [
        {
            "host": host,
            "http": {
                "paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": name}}}}
                ]
            },
        }
        for host, name in hosts.items()
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"ports": [{"name": n, "port": 80 + i, "targetPort": 8080} for i, n in enumerate(hosts.values())]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-local", "namespace": NS, "labels": {ingress.SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4",
            "ports": [{"name": n, "port": port, "protocol": "TCP"} for n in hosts.values()],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "workspace",
                "namespace": NS,
                "annotations": {crd.ANNOTATION_FORWARD_AUTH_URL: auth_url},
            },
            "spec": {"ingressClassName": ingress.CLASS_NAME, "rules": rules},
        },
    ]


@pytest.fixture(scope="module")
def setup(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    client = kube.dynamic_client(cluster.kubeconfig)
    install.install_crds(client)
    kube.apply(client, ws.PYTHON)
    kube.apply(client, workspace("owner"))
    api, api_url = ps.api_process(cluster, tmp_path_factory.mktemp("preview-ingress"))
    ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
    with http_backend.in_netns(HOST_SIDE, BACKEND_ADDRESS) as backend, ps.running(api, api_url, client) as users:
        for obj in published(f"{api_url}/preview/auth", *backend):
            kube.apply(client, obj)
        url = ps.url_of(ing, NAME, PORT)
        wait_until(lambda: ps.anonymous(url).status_code == 302, 30, what="the guarded route")
        yield {"client": client, "ingress": ing, "api": api, "users": users, "url": url}
    ing.stop()
    kube.resource(client, crd.API_VERSION, crd.WORKSPACE_KIND).delete(name=NAME)


def share(setup: dict, level: str) -> float:
    """Set the port's share level through the API as its owner; returns when it was asked."""
    setup["users"]["alice"].update_workspace(NAME, {"ports": [{"port": PORT, "name": "web", "share": level}]})
    return time.monotonic()


def activity_source(setup: dict) -> str:
    obj = kube.get(setup["client"], crd.API_VERSION, crd.WORKSPACE_KIND, NAME) or {}
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(crd.ANNOTATION_LAST_ACTIVITY_SOURCE, "")


def test_owner_only_port_and_who_opened_it(setup: dict, chromium: Browser) -> None:
    """The first test: the Workspace has no activity yet (a share change through the API would
    record `api` activity, and port activity is recorded at most once a minute)."""
    alice, bob, url = setup["users"]["alice"], setup["users"]["bob"], setup["url"]
    status, body = ps.opens(chromium, alice, url)
    assert status == 200 and "hello from the backend" in body
    wait_until(lambda: activity_source(setup) == "port", timeout=15, what="port activity on the workspace")
    opened = ps.audit_lines(setup["api"], "open port")
    assert len(opened) == 1 and '"actor": "alice"' in opened[0]
    assert ps.opens(chromium, bob, url)[0] == 404
    signed_out = ps.anonymous(url)
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith(ps.SIGN_IN + "?next=")


def test_share_changes_apply_within_seconds(setup: dict, chromium: Browser) -> None:
    bob, url = setup["users"]["bob"], setup["url"]
    asked = share(setup, "authenticated")
    wait_until(lambda: ps.opens(chromium, bob, url)[0] == 200, timeout=15, what="bob let in at authenticated")
    authenticated_seconds = time.monotonic() - asked
    assert ps.anonymous(url).status_code == 302
    asked = share(setup, "public")
    wait_until(lambda: ps.anonymous(url).status_code == 200, timeout=15, what="the port open to anyone")
    public_seconds = time.monotonic() - asked
    assert "Set-Cookie" not in ps.anonymous(url).headers
    share(setup, "owner")
    wait_until(lambda: ps.anonymous(url).status_code == 302, timeout=15, what="the port back to owner-only")
    print(f"\nshare change applied in {authenticated_seconds:.1f}s (authenticated), {public_seconds:.1f}s (public)")


def test_the_ide_host_is_owner_only(setup: dict, chromium: Browser) -> None:
    ide = ps.url_of(setup["ingress"], NAME, None)
    assert ps.anonymous(ide).status_code == 302
    assert ps.opens(chromium, setup["users"]["bob"], ide)[0] == 404
    assert ps.opens(chromium, setup["users"]["alice"], ide)[0] == 200


def test_an_undeclared_port_is_unreachable(setup: dict) -> None:
    assert ps.anonymous(ps.url_of(setup["ingress"], NAME, 4000)).status_code == 404
