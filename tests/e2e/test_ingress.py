"""The local ingress controller against the real control plane: Caddy on 127.0.0.1 routes by
Host header to the endpoints of the Service an Ingress of class `cps1` names.

The backend is a small HTTP server in a network namespace this test makes (as a pod would live
in one; the API server refuses loopback addresses in an EndpointSlice), published as a Service
without a selector plus an EndpointSlice, so no node is needed. The namespace has no route
beyond its own /30 link.
"""

import http.client
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import kubeclient as kube
from cps1.localcluster import cluster as local
from cps1.localcluster import ingress
from cps1.localcluster.cluster import LocalCluster
from cps1.localcluster.processes import LOOPBACK, StartupError, free_port
from tests.e2e import http_backend
from tests.support.cluster import wait_until

NAMESPACE = "ingress-test"
# A /30 of its own, apart from the real node's pod range (10.244.0.0/24).
HOST_SIDE, BACKEND_ADDRESS = "10.244.255.1/30", "10.244.255.2"


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, int]]:
    """(address, port) of the echo server in its own network namespace, removed afterwards."""
    with http_backend.in_netns(HOST_SIDE, BACKEND_ADDRESS) as running:
        yield running


@pytest.fixture(scope="module")
def caddy_dir() -> Path:
    return local.binaries(("caddy",))["caddy"]


@pytest.fixture(scope="module")
def controller(cluster: LocalCluster, caddy_dir: Path, backend: tuple[str, int]) -> Iterator[ingress.Ingress]:
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    kube.apply(client, service("web"))
    kube.apply(client, endpoint_slice("web", *backend))
    running = ingress.start(cluster, caddy_dir)
    yield running
    running.stop()


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def endpoint_slice(service_name: str, address: str, port: int) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-local",
            "namespace": NAMESPACE,
            "labels": {ingress.SERVICE_NAME_LABEL: service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
    }


def ingress_manifest(name: str, host: str, class_name: str = ingress.CLASS_NAME) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "ingressClassName": class_name,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def get(port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    """GET through the controller with a Host header, as a browser opening http://HOST:PORT/."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def status_is(port: int, host: str, status: int) -> bool:
    """For polling: a connection that Caddy closes while it swaps configurations is "not yet"."""
    try:
        return get(port, host)[0] == status
    except ConnectionError:
        return False


def test_ingress_class_is_created_for_the_controller(cluster: LocalCluster, controller: ingress.Ingress) -> None:
    got = kube.get(kube.dynamic_client(cluster.kubeconfig), "networking.k8s.io/v1", "IngressClass", "cps1")
    assert got is not None and got["spec"]["controller"] == ingress.CONTROLLER


def test_routes_a_host_to_the_backend_and_forgets_it_when_the_ingress_goes(
    cluster: LocalCluster, controller: ingress.Ingress
) -> None:
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, ingress_manifest("demo", "demo.localhost"))
    wait_until(lambda: status_is(controller.port, "demo.localhost", 200), 30, what="the route to demo.localhost")
    status, body = get(controller.port, "demo.localhost", "/some/path?q=1")
    assert status == 200
    assert body == http_backend.BODY + f"host=demo.localhost:{controller.port} path=/some/path?q=1\n".encode()
    assert get(controller.port, "unknown.localhost")[0] == 404

    kube.resource(client, "networking.k8s.io/v1", "Ingress").delete(name="demo", namespace=NAMESPACE)
    wait_until(lambda: status_is(controller.port, "demo.localhost", 404), 30, what="the route to disappear")


def test_an_ingress_of_another_class_is_ignored(cluster: LocalCluster, controller: ingress.Ingress) -> None:
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, ingress_manifest("theirs", "theirs.localhost", class_name="someone-else"))
    # A proof of absence after a sync that surely came later: an Ingress of our class applied
    # after the other one is served, so the other one has been seen and left out.
    kube.apply(client, ingress_manifest("marker", "marker.localhost"))
    wait_until(lambda: status_is(controller.port, "marker.localhost", 200), 30, what="the marker route")
    assert get(controller.port, "theirs.localhost")[0] == 404


def test_a_backend_without_ready_endpoints_answers_503(cluster: LocalCluster, controller: ingress.Ingress) -> None:
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, service("empty"))
    manifest = ingress_manifest("empty", "empty.localhost")
    manifest["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "empty"
    kube.apply(client, manifest)
    wait_until(
        lambda: status_is(controller.port, "empty.localhost", 503), 30, what="503 for a Service with no endpoint"
    )


def test_an_upgraded_stream_survives_a_configuration_reload(cluster: LocalCluster, controller: ingress.Ingress) -> None:
    """An open IDE keeps its WebSocket while other Workspaces' Ingresses come and go."""
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, ingress_manifest("stream", "stream.localhost"))
    wait_until(lambda: status_is(controller.port, "stream.localhost", 200), 30, what="the stream route")
    with socket.create_connection((LOOPBACK, controller.port), timeout=5) as sock, sock.makefile("rb") as stream:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: stream.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        assert stream.readline().startswith(b"HTTP/1.1 101")
        while stream.readline() not in (b"\r\n", b""):
            pass
        sock.sendall(b"before\n")
        assert stream.readline() == b"before\n"
        kube.apply(client, ingress_manifest("reload", "reload.localhost"))
        wait_until(lambda: status_is(controller.port, "reload.localhost", 200), 30, what="a new configuration")
        sock.sendall(b"after\n")
        assert stream.readline() == b"after\n"


def test_stop_by_pid_ends_both_processes_and_caddy_keeps_routes_without_the_sync(
    cluster: LocalCluster, caddy_dir: Path, controller: ingress.Ingress
) -> None:
    client = kube.dynamic_client(cluster.kubeconfig)
    kube.apply(client, ingress_manifest("second", "second.localhost"))
    own = ingress.start(cluster, caddy_dir)
    assert own.ready()
    assert own.caddy is not None and own.sync is not None
    assert own.sync.pid is not None and own.caddy.pid is not None
    pids = [own.sync.pid, own.caddy.pid]
    wait_until(lambda: status_is(own.port, "second.localhost", 200), 30, what="the route on the second controller")

    own.sync.stop()
    assert status_is(own.port, "second.localhost", 200), "Caddy keeps its last configuration"
    own.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(map(ingress.accepts, (own.port, own.health_port, own.admin_port)))


def test_caddy_that_cannot_listen_fails_readiness_naming_it_with_its_log(
    cluster: LocalCluster, caddy_dir: Path
) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        ing = ingress.Ingress(port=taken.getsockname()[1], health_port=free_port(), admin_port=free_port())
        proc = ingress.caddy_process(ing, caddy_dir, cluster.run_dir)
        proc.start()
        try:
            with pytest.raises(StartupError, match=r"(?s)^caddy .*address already in use"):
                proc.wait_ready(30)
        finally:
            proc.stop()
