"""The IDE heartbeat prober: code-server's /healthz reports when the browser IDE last saw its
user (`{"status": "alive" | "expired", "lastHeartbeat": <ms>}`); a newer heartbeat than the
Workspace's recorded activity is written as activity with source `ide`.

One process for the installation (`cps1-ide-prober`), never one per api worker. It reaches each
running Workspace's Service through a URL template (`CPS1_PROBER_URL`), which tests point at a
loopback stand-in for code-server.
"""

import argparse
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import requests

from api import activity
from api.store import Store
from common import crd, names
from common import logging as cps1_logging
from common.timefmt import parse_time

log = logging.getLogger("cps1.prober")
DEFAULT_URL = "http://workspace.{namespace}.svc:{port}/healthz"


def heartbeat_activity(workspace: dict, health: object) -> dict | None:
    """The activity patch a code-server health answer calls for, or None."""
    if not isinstance(health, dict) or health.get("status") != "alive":
        return None
    beat = health.get("lastHeartbeat")
    if not isinstance(beat, int | float) or isinstance(beat, bool) or beat <= 0:
        return None
    moment = datetime.fromtimestamp(beat / 1000, tz=UTC).replace(microsecond=0)
    notes = (workspace.get("metadata") or {}).get("annotations") or {}
    recorded = parse_time(notes.get(crd.ANNOTATION_LAST_ACTIVITY))
    if recorded is not None and moment <= recorded:
        return None
    return activity.activity_patch(moment, source="ide")


def probe_once(store: Store, url_template: str, get: Callable[..., requests.Response] = requests.get) -> int:
    """Probe every running Workspace once; returns how many activities were recorded."""
    recorded = 0
    for obj in store.workspaces():
        if (obj.get("status") or {}).get("phase") != crd.PHASE_RUNNING:
            continue
        name = obj["metadata"]["name"]
        url = url_template.format(workspace=name, namespace=names.namespace_for(name), port=8080)
        try:
            health = get(url, timeout=3).json()
        except (requests.RequestException, ValueError) as err:
            log.info("probe failed", extra={"workspace": name, "error": type(err).__name__})
            continue
        patch = heartbeat_activity(obj, health)
        if patch:
            store.patch_workspace(name, patch)
            recorded += 1
            log.info("IDE activity", extra={"workspace": name})
    return recorded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cps1-ide-prober", description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL, help="template with {workspace}, {namespace}, {port}")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--kubeconfig", default="")
    args = parser.parse_args(argv)
    cps1_logging.configure()
    from cps1 import kube

    store = Store(kube.dynamic_client(args.kubeconfig), "")
    while True:
        started = time.monotonic()
        try:
            probe_once(store, args.url)
        except Exception:
            log.exception("probe round failed")
        time.sleep(max(1.0, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
