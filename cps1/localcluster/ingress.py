"""The local cluster's ingress controller: Caddy as the proxy, listening on 127.0.0.1 only, and
a sync process (cps1.localcluster.ingress_sync) that watches the Ingresses of class `cps1`, the
Services and the EndpointSlices they name, and loads the matching Caddy configuration through
Caddy's admin API (also on 127.0.0.1).

Why not Traefik or ingress-nginx: neither builds from the Go module proxy reachable here (see
cps1/localcluster/README.md); Caddy's stock command does, and its admin API takes a whole new
configuration atomically, so the controller is just desired state from Kubernetes objects.

This module holds that desired state as pure functions, and starts both processes.
"""

import ipaddress
import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import kubeclient as kube
from common import crd
from cps1.localcluster.processes import LOOPBACK, Process, free_port, http_ok

if TYPE_CHECKING:
    from cps1.localcluster.cluster import LocalCluster

CLASS_NAME = "cps1"
LOCAL_DOMAIN = "localhost"
CONTROLLER = "cps1.io/ingress-controller"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Endpoints Caddy may dial: the real node's pod range (node.py's 10.244.0.0/24 lies inside).
# Anything else stays unrouted (503): kwok's simulated pods carry addresses such as 10.0.0.1
# that belong to no interface here, and a proxy dialing them would send traffic off this machine.
BACKEND_NETWORKS = ("10.244.0.0/16",)
# Caddy replaces its whole configuration on every change and by default closes the WebSockets
# of the old one (every open IDE would reconnect whenever any Workspace starts or stops): keep
# them open this long instead.
STREAM_CLOSE_DELAY = "1h"
# Health answers 503 until the sync process has loaded its first configuration from the API.
STARTING, SYNCED = (503, "starting"), (200, "ok")


def ingress_class(name: str = CLASS_NAME) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {"controller": CONTROLLER},
    }


@dataclass(frozen=True)
class Route:
    """One Ingress path: requests for `host` (any host when empty) under `path` go to `upstreams`
    ("ip:port"); no upstreams means the backend has no ready endpoint (503). With `auth_url`,
    each request is first asked about there."""

    host: str
    path: str
    exact: bool
    upstreams: tuple[str, ...]
    # The Ingress's forward-auth URL (annotation cps1.io/forward-auth-url), "" for none.
    auth_url: str = ""


def object_key(obj: dict) -> tuple[str, str]:
    """(namespace, name): how the sync process indexes what it mirrors."""
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _dial(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _dialable(address: str, networks: tuple[str, ...]) -> bool:
    return any(ipaddress.ip_address(address) in ipaddress.ip_network(n) for n in networks)


def upstreams(
    namespace: str, backend: dict, services: dict, slices: list[dict], networks: tuple[str, ...] = BACKEND_NETWORKS
) -> tuple[str, ...]:
    """The ready endpoints ("ip:port") of an Ingress backend's Service port, as a Service proxy
    would pick them: the Service port by number or name, then the EndpointSlice port of the same
    name. Endpoints whose `ready` condition is false, or outside `networks`, are left out."""
    ref = backend.get("service") or {}
    service = services.get((namespace, ref.get("name")))
    if service is None:
        return ()
    wanted = ref.get("port") or {}
    port = next(
        (
            p
            for p in service["spec"].get("ports") or []
            if p.get("port") == wanted.get("number") or (p.get("name") and p.get("name") == wanted.get("name"))
        ),
        None,
    )
    if port is None:
        return ()
    found: list[str] = []
    for eps in slices:
        labels = eps["metadata"].get("labels") or {}
        if (
            eps["metadata"].get("namespace") != namespace
            or labels.get(SERVICE_NAME_LABEL) != service["metadata"]["name"]
        ):
            continue
        if eps.get("addressType") not in ("IPv4", "IPv6"):
            continue
        numbers = [
            p["port"]
            for p in eps.get("ports") or []
            if p.get("port") and (p.get("name") or "") == (port.get("name") or "")
        ]
        for endpoint in eps.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            addresses = [a for a in endpoint.get("addresses") or [] if _dialable(a, networks)]
            found += [_dial(address, number) for address in addresses for number in numbers]
    return tuple(sorted(set(found)))


def routes(
    ingresses: list[dict],
    services: dict,
    slices: list[dict],
    class_name: str = CLASS_NAME,
    networks: tuple[str, ...] = BACKEND_NETWORKS,
) -> list[Route]:
    """Every path of every Ingress of `class_name`, most specific first: named hosts before the
    catch-all, exact paths before prefixes, longer prefixes before shorter ones."""
    out = []
    for ing in ingresses:
        spec = ing.get("spec") or {}
        if spec.get("ingressClassName") != class_name:
            continue
        namespace = ing["metadata"]["namespace"]
        auth_url = (ing["metadata"].get("annotations") or {}).get(crd.ANNOTATION_FORWARD_AUTH_URL, "")
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                out.append(
                    Route(
                        host=rule.get("host") or "",
                        path=path.get("path") or "/",
                        exact=path.get("pathType") == "Exact",
                        upstreams=upstreams(namespace, path["backend"], services, slices, networks),
                        auth_url=auth_url,
                    )
                )
    return sorted(set(out), key=lambda r: (r.host == "", not r.exact, -len(r.path), r.host, r.path))


def forward_auth(url: str) -> dict:
    """Caddy's `forward_auth` directive, expanded: a GET of `url` with the original request's
    method and URI in X-Forwarded-Method/-Uri (X-Forwarded-Host/-Proto and the cookies go with
    it); a 2xx answer lets the request through with the user's name for the app, anything else
    (a redirect to sign in, a 403) is sent to the browser as it is."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"forward-auth URL {url!r}: only http://host:port/path")
    user = "X-CPS1-User"
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": _dial(parts.hostname, parts.port or 80)}],
        "rewrite": {"method": "GET", "uri": (parts.path or "/") + (f"?{parts.query}" if parts.query else "")},
        "headers": {
            "request": {
                "set": {"X-Forwarded-Method": ["{http.request.method}"], "X-Forwarded-Uri": ["{http.request.uri}"]}
            }
        },
        "handle_response": [
            {
                "match": {"status_code": [2]},
                "routes": [
                    {
                        "handle": [
                            {
                                "handler": "headers",
                                "request": {"set": {user: [f"{{http.reverse_proxy.header.{user}}}"]}},
                            }
                        ]
                    }
                ],
            }
        ],
    }


def _caddy_route(route: Route) -> dict:
    match: dict = {}
    if route.host:
        match["host"] = [route.host]
    base = route.path.rstrip("/")
    if route.exact:
        match["path"] = [route.path]
    elif base:
        # An Ingress prefix matches whole path elements: /app matches /app and /app/x, not /apple.
        match["path"] = [base, base + "/*"]
    handler = (
        {
            "handler": "reverse_proxy",
            "upstreams": [{"dial": u} for u in route.upstreams],
            "stream_close_delay": STREAM_CLOSE_DELAY,
        }
        if route.upstreams
        else {"handler": "static_response", "status_code": 503, "body": "no ready endpoint\n"}
    )
    handlers = [handler]
    if route.auth_url:
        try:
            handlers.insert(0, forward_auth(route.auth_url))
        except ValueError:  # fail closed: never serve a route whose check cannot run
            handlers = [{"handler": "static_response", "status_code": 502, "body": "bad forward-auth URL\n"}]
    return {"match": [match] if match else [], "handle": handlers, "terminal": True}


def caddy_config(
    route_list: list[Route], *, port: int, health_port: int, admin_port: int, data_dir: Path, synced: bool
) -> dict:
    """Caddy's whole configuration: the ingress listener and the health listener, both on
    127.0.0.1, plain HTTP (automatic HTTPS off, so no certificate is ever requested), JSON logs
    with an access log, the admin API on 127.0.0.1 and not persisted. Unmatched requests get 404."""
    status, body = SYNCED if synced else STARTING
    # HTTP/1.1 only: HTTP/2 and HTTP/3 need TLS in browsers, and Caddy would warn about each.
    plain = {"automatic_https": {"disable": True}, "protocols": ["h1"]}
    not_found = {"handle": [{"handler": "static_response", "status_code": 404, "body": "no Ingress matches\n"}]}
    return {
        "admin": {"listen": f"{LOOPBACK}:{admin_port}", "config": {"persist": False}},
        "logging": {
            "logs": {
                "default": {"writer": {"output": "stderr"}, "encoder": {"format": "json", "time_format": "iso8601"}}
            }
        },
        "storage": {"module": "file_system", "root": str(data_dir)},
        "apps": {
            "http": {
                "servers": {
                    "ingress": {
                        **plain,
                        "listen": [f"{LOOPBACK}:{port}"],
                        "logs": {},
                        "routes": [*map(_caddy_route, route_list), not_found],
                    },
                    "health": {
                        **plain,
                        "listen": [f"{LOOPBACK}:{health_port}"],
                        "routes": [
                            {"handle": [{"handler": "static_response", "status_code": status, "body": body + "\n"}]}
                        ],
                    },
                }
            }
        },
    }


@dataclass
class Ingress:
    """A controller's addresses and, once started, its two processes."""

    port: int
    health_port: int
    admin_port: int
    caddy: Process | None = None
    sync: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def workspace_url(self, workspace: str, domain: str = LOCAL_DOMAIN) -> str:
        """The IDE address a browser opens (Chromium resolves *.localhost to loopback)."""
        return f"http://{workspace}.{domain}:{self.port}/"

    def hooks_env(self, class_name: str = CLASS_NAME) -> dict[str, str]:
        """The hooks' settings that make each Workspace's Ingress one this controller serves."""
        return {
            "CPS1_HOOKS_IDE_DOMAIN": LOCAL_DOMAIN,
            "CPS1_HOOKS_IDE_PORT": str(self.port),
            "CPS1_HOOKS_INGRESS_CLASS": class_name,
        }

    def ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.health_port}/")

    def stop(self) -> None:
        """Stop the sync process, then Caddy, by PID."""
        for proc in (self.sync, self.caddy):
            if proc is not None:
                proc.stop()


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


def caddy_process(ing: Ingress, caddy_dir: Path, run_dir: Path) -> Process:
    """Caddy with the initial configuration (no route yet, health 503), ready when all three
    listeners are bound (its admin API comes up before the HTTP servers, which may still fail)."""
    base = run_dir / f"ingress-{ing.port}"
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    initial = base / "caddy.json"
    initial.write_text(json.dumps(caddy_config([], **_ports(ing), data_dir=data, synced=False), indent=2))
    # Caddy keeps files under $HOME and $XDG_*: give it the run's own folders.
    env = {"HOME": str(base), "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(base / "config")}
    return Process(
        "caddy",
        [str(caddy_dir / "caddy"), "run", "--config", str(initial)],
        run_dir / "logs" / f"caddy-{ing.port}.log",
        env,
        lambda: all(map(accepts, _ports(ing).values())),
    )


def sync_process(ing: Ingress, kubeconfig: Path, run_dir: Path, class_name: str = CLASS_NAME) -> Process:
    """The sync process (cps1.localcluster.ingress_sync), ready when Caddy serves the first
    configuration made from the API's objects."""
    return Process(
        "ingress-sync",
        [
            sys.executable,
            "-m",
            "cps1.localcluster.ingress_sync",
            f"--kubeconfig={kubeconfig}",
            f"--class={class_name}",
            *(f"--{name.replace('_', '-')}={value}" for name, value in _ports(ing).items()),
            f"--data-dir={run_dir / f'ingress-{ing.port}' / 'data'}",
        ],
        run_dir / "logs" / f"ingress-sync-{ing.port}.log",
        {},
        ing.ready,
    )


def _ports(ing: Ingress) -> dict[str, int]:
    return {"port": ing.port, "health_port": ing.health_port, "admin_port": ing.admin_port}


def start(cluster: "LocalCluster", caddy_dir: Path, class_name: str = CLASS_NAME, port: int = 0) -> Ingress:
    """Create the IngressClass, start Caddy (listening on `port`, or one the kernel picks) and
    the sync process as part of `cluster` (stopped with it, by PID), and wait until the first
    configuration from the API is served."""
    with kube.connected(cluster.kubeconfig) as client:
        kube.apply(client, ingress_class(class_name))
    ing = Ingress(port=port or free_port(), health_port=free_port(), admin_port=free_port())
    ing.caddy = caddy_process(ing, caddy_dir, cluster.run_dir)
    cluster.launch(ing.caddy)
    ing.sync = sync_process(ing, cluster.kubeconfig, cluster.run_dir, class_name)
    cluster.launch(ing.sync)
    return ing
