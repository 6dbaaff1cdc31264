"""The local ingress controller's desired state: which Ingress paths become which Caddy routes,
and the Ingress the hooks render for the local cluster is one it serves."""

import dataclasses
from pathlib import Path

from cps1.localcluster import ingress
from hooks import access, model
from hooks.render.ingress import render_ingress
from tests.unit.hooks import factories


def service(name: str, ports: list[dict], namespace: str = "ns") -> dict:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"ports": ports}}


def endpoint_slice(svc: str, ports: list[dict], endpoints: list[dict], namespace: str = "ns") -> dict:
    return {
        "metadata": {"namespace": namespace, "name": f"{svc}-x", "labels": {ingress.SERVICE_NAME_LABEL: svc}},
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }


def ingress_obj(
    host: str, path: str = "/", *, cls: str | None = "cps1", port: dict | None = None, kind: str = "Prefix"
) -> dict:
    backend = {"service": {"name": "web", "port": port or {"name": "http"}}}
    spec: dict = {"rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": kind, "backend": backend}]}}]}
    if cls:
        spec["ingressClassName"] = cls
    return {"metadata": {"namespace": "ns", "name": host}, "spec": spec}


SERVICES = {("ns", "web"): service("web", [{"name": "http", "port": 80, "targetPort": 8080}])}
SLICES = [
    endpoint_slice(
        "web",
        [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
        [
            {"addresses": ["10.244.0.5"], "conditions": {"ready": True}},
            {"addresses": ["10.244.0.6"]},
            {"addresses": ["10.244.0.7"], "conditions": {"ready": False}},
        ],
    ),
    endpoint_slice("other", [{"name": "http", "port": 1}], [{"addresses": ["10.244.0.9"]}]),
]


def test_backend_resolves_to_ready_endpoints_of_the_named_port() -> None:
    [route] = ingress.routes([ingress_obj("demo.localhost")], SERVICES, SLICES)
    assert route == ingress.Route("demo.localhost", "/", False, ("10.244.0.5:8080", "10.244.0.6:8080"))


def test_backend_port_by_number_and_unknown_ports_or_services_have_no_upstream() -> None:
    by_number = ingress.routes([ingress_obj("a", port={"number": 80})], SERVICES, SLICES)
    assert by_number[0].upstreams == ("10.244.0.5:8080", "10.244.0.6:8080")
    assert ingress.routes([ingress_obj("a", port={"number": 81})], SERVICES, SLICES)[0].upstreams == ()
    assert ingress.routes([ingress_obj("a")], {}, SLICES)[0].upstreams == ()


def test_endpoints_outside_the_backend_networks_are_never_dialed() -> None:
    simulated = [endpoint_slice("web", [{"name": "http", "port": 8080}], [{"addresses": ["10.0.0.1"]}])]
    assert ingress.routes([ingress_obj("h")], SERVICES, simulated)[0].upstreams == ()
    assert ingress.routes([ingress_obj("h")], SERVICES, simulated, networks=("10.0.0.0/24",))[0].upstreams == (
        "10.0.0.1:8080",
    )


def test_only_the_controllers_class_is_served() -> None:
    ings = [ingress_obj("mine"), ingress_obj("theirs", cls="nginx"), ingress_obj("none", cls=None)]
    assert [r.host for r in ingress.routes(ings, SERVICES, SLICES)] == ["mine"]


def test_specific_routes_come_first() -> None:
    ings = [
        ingress_obj("", "/"),
        ingress_obj("h", "/"),
        ingress_obj("h", "/app"),
        ingress_obj("h", "/app", kind="Exact"),
    ]
    order = [(r.host, r.path, r.exact) for r in ingress.routes(ings, SERVICES, SLICES)]
    assert order == [("h", "/app", True), ("h", "/app", False), ("h", "/", False), ("", "/", False)]


def config(routes: list[ingress.Route], synced: bool = True) -> dict:
    return ingress.caddy_config(routes, port=1, health_port=2, admin_port=3, data_dir=Path("/d"), synced=synced)


def test_caddy_listens_on_loopback_only_with_https_off_and_json_logs() -> None:
    cfg = config([])
    servers = cfg["apps"]["http"]["servers"]
    assert {s: v["listen"] for s, v in servers.items()} == {"ingress": ["127.0.0.1:1"], "health": ["127.0.0.1:2"]}
    assert all(v["automatic_https"] == {"disable": True} and v["protocols"] == ["h1"] for v in servers.values())
    assert cfg["admin"] == {"listen": "127.0.0.1:3", "config": {"persist": False}}
    assert cfg["logging"]["logs"]["default"]["encoder"]["format"] == "json"
    assert servers["ingress"]["logs"] == {}


def test_prefix_matches_whole_elements_and_unmatched_requests_get_404() -> None:
    route = ingress.Route("demo.localhost", "/ws/demo/", False, ("10.0.0.1:80",))
    first, last = config([route])["apps"]["http"]["servers"]["ingress"]["routes"]
    assert first["match"] == [{"host": ["demo.localhost"], "path": ["/ws/demo", "/ws/demo/*"]}]
    [proxy] = first["handle"]
    assert proxy["handler"] == "reverse_proxy" and proxy["upstreams"] == [{"dial": "10.0.0.1:80"}]
    assert proxy["stream_close_delay"] == ingress.STREAM_CLOSE_DELAY
    assert "match" not in last and last["handle"][0]["status_code"] == 404


def test_no_endpoint_is_503_and_health_says_whether_the_first_sync_happened() -> None:
    [route, _] = config([ingress.Route("h", "/", False, ())])["apps"]["http"]["servers"]["ingress"]["routes"]
    assert route["match"] == [{"host": ["h"]}] and route["handle"][0]["status_code"] == 503
    for synced, status in ((False, 503), (True, 200)):
        health = config([], synced)["apps"]["http"]["servers"]["health"]["routes"][0]["handle"][0]
        assert health["status_code"] == status


def test_the_hooks_ingress_for_the_local_cluster_is_served_and_its_url_has_the_port(python_template: dict) -> None:
    settings = dataclasses.replace(factories.SETTINGS, ide_domain="localhost", ide_port=8443, ingress_class="cps1")
    ws, errors = model.resolve(factories.parent("demo", "python"), python_template)
    assert errors == []
    assert ws is not None
    rendered = render_ingress(ws, settings)
    rendered["metadata"]["namespace"] = "ns"
    svc = rendered["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    services = {("ns", svc): service(svc, [{"name": "ide", "port": 8080, "targetPort": "ide"}])}
    slices = [endpoint_slice(svc, [{"name": "ide", "port": 13337}], [{"addresses": ["10.244.0.5"]}])]
    assert ingress.routes([rendered], services, slices) == [
        ingress.Route("demo.localhost", "/", False, ("10.244.0.5:13337",))
    ]
    assert access.ide_url("demo", settings) == "http://demo.localhost:8443/"
    assert access.ide_url("demo", dataclasses.replace(settings, ide_port=0)) == "http://demo.localhost/"


def test_forward_auth_annotation_puts_the_check_before_the_proxy() -> None:
    guarded = ingress_obj("3000--ws.localhost")
    guarded["metadata"]["annotations"] = {"cps1.io/forward-auth-url": "http://127.0.0.1:5000/preview/auth"}
    route = ingress.routes([guarded], SERVICES, SLICES)[0]
    assert route.auth_url == "http://127.0.0.1:5000/preview/auth"
    check, proxy = ingress._caddy_route(route)["handle"]
    assert check["upstreams"] == [{"dial": "127.0.0.1:5000"}]
    assert check["rewrite"] == {"method": "GET", "uri": "/preview/auth"}
    assert check["handle_response"][0]["match"] == {"status_code": [2]}
    assert proxy["handler"] == "reverse_proxy"
    broken = dataclasses.replace(route, auth_url="ftp://x")
    assert [h["status_code"] for h in ingress._caddy_route(broken)["handle"]] == [502]
