"""The ingress controller's sync process: mirror Ingresses, Services and EndpointSlices by
list+watch, and load Caddy's configuration through its admin API whenever the desired one
changes. Caddy keeps serving the last configuration while the API server is away.

    python -m cps1.localcluster.ingress_sync --kubeconfig=FILE --class=cps1 --port=P \
        --health-port=H --admin-port=A --data-dir=DIR
"""

import argparse
import json
import logging
import threading
import time
import urllib.request
from pathlib import Path

import kubeclient as kube
from common import logging as cps1_logging
from cps1.localcluster import ingress
from cps1.localcluster.processes import LOOPBACK

log = logging.getLogger("cps1.ingress")
WATCH_SECONDS = 300  # a fresh list at least this often


class Mirror:
    """One kind's objects in all namespaces, kept current by a list+watch thread; `changed` is
    set after every update so the sync loop wakes up."""

    def __init__(self, client, api_version: str, kind: str, changed: threading.Event) -> None:
        self.resource = kube.resource(client, api_version, kind)
        self.kind = kind
        self.changed = changed
        self.listed = threading.Event()
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict] = {}

    def items(self) -> list[dict]:
        with self._lock:
            return list(self._objects.values())

    def _update(self, objects: dict[tuple[str, str], dict]) -> None:
        with self._lock:
            self._objects = objects
        self.listed.set()
        self.changed.set()

    def run(self) -> None:
        while True:
            try:
                listing = self.resource.get().to_dict()
                objects = {ingress.object_key(o): o for o in listing["items"]}
                self._update(objects)
                version = listing["metadata"]["resourceVersion"]
                for event in self.resource.watch(resource_version=version, timeout=WATCH_SECONDS):
                    if event["type"] == "ERROR":
                        break  # e.g. 410 Gone: list again
                    obj = event["raw_object"]
                    objects = dict(objects)
                    if event["type"] == "DELETED":
                        objects.pop(ingress.object_key(obj), None)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        objects[ingress.object_key(obj)] = obj
                    self._update(objects)
            except Exception:
                log.exception("watch failed; listing again", extra={"kind": self.kind})
                time.sleep(1)


def load(admin_port: int, config: dict) -> None:
    """Replace Caddy's whole configuration (Caddy applies it atomically or keeps the old one)."""
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{admin_port}/load",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def run(args: argparse.Namespace) -> None:
    client = kube.dynamic_client(args.kubeconfig)
    changed = threading.Event()
    mirrors = {
        kind: Mirror(client, api_version, kind, changed)
        for api_version, kind in (
            ("networking.k8s.io/v1", "Ingress"),
            ("v1", "Service"),
            ("discovery.k8s.io/v1", "EndpointSlice"),
        )
    }
    for mirror in mirrors.values():
        threading.Thread(target=mirror.run, name=f"watch-{mirror.kind}", daemon=True).start()
    loaded: dict | None = None
    while True:
        changed.wait()
        changed.clear()
        synced = all(m.listed.is_set() for m in mirrors.values())
        services = {ingress.object_key(s): s for s in mirrors["Service"].items()}
        route_list = ingress.routes(
            mirrors["Ingress"].items(), services, mirrors["EndpointSlice"].items(), args.ingress_class
        )
        config = ingress.caddy_config(
            route_list,
            port=args.port,
            health_port=args.health_port,
            admin_port=args.admin_port,
            data_dir=args.data_dir,
            synced=synced,
        )
        if config == loaded:
            continue
        try:
            load(args.admin_port, config)
        except OSError:
            log.exception("loading the configuration into Caddy failed; retrying")
            time.sleep(1)
            changed.set()
            continue
        loaded = config
        log.info("configuration loaded", extra={"routes": len(route_list), "synced": synced})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--class", dest="ingress_class", default=ingress.CLASS_NAME)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--health-port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    cps1_logging.configure()
    run(parser.parse_args())


if __name__ == "__main__":
    main()
