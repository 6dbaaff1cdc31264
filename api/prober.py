"""The IDE heartbeat prober: code-server's /healthz reports when the browser IDE last saw its
user (`{"status": "alive" | "expired", "lastHeartbeat": <ms>}`); a newer heartbeat than the
Workspace's recorded activity is written as activity with source `ide`.

One process for the installation (`cps1-ide-prober`), never one per api worker. It reaches each
running Workspace's Service on its template's IDE port through a URL template (`--url`), which
tests point at a loopback stand-in for code-server.

The answer comes from code the Workspace's user controls, so nothing in it is trusted: a
heartbeat is clamped to now, redirects are not followed (no requests on the user's behalf from
the system namespace), the body is read up to a small bound, and one Workspace's bad answer
never stops the round for the others.
"""

import argparse
import json
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
DEFAULT_IDE_PORT = 8080
MAX_BODY_BYTES = 16 * 1024


def heartbeat_activity(workspace: dict, health: object, now: datetime) -> dict | None:
    """The activity patch a code-server health answer calls for, or None."""
    if not isinstance(health, dict) or health.get("status") != "alive":
        return None
    beat = health.get("lastHeartbeat")
    if not isinstance(beat, int | float) or isinstance(beat, bool) or beat <= 0:
        return None
    try:
        moment = datetime.fromtimestamp(beat / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    moment = min(moment, now).replace(microsecond=0)
    notes = (workspace.get("metadata") or {}).get("annotations") or {}
    recorded = parse_time(notes.get(crd.ANNOTATION_LAST_ACTIVITY))
    if recorded is not None and moment <= recorded:
        return None
    return activity.activity_patch(moment, source="ide")


def ide_port(template: dict | None) -> int:
    """The IDE port the template's Workspaces serve (their Service publishes the same port)."""
    port = (((template or {}).get("spec") or {}).get("ports") or {}).get("ide")
    return port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else DEFAULT_IDE_PORT


def fetch_health(url: str, get: Callable[..., requests.Response]) -> object:
    """code-server's health answer, or None: no redirects, a bounded body."""
    with get(url, timeout=3, allow_redirects=False, stream=True) as response:
        if response.status_code != 200:
            return None
        body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    if len(body) > MAX_BODY_BYTES:
        return None
    return json.loads(body)


def probe_once(
    store: Store,
    url_template: str,
    get: Callable[..., requests.Response] = requests.get,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Probe every running Workspace once; returns how many activities were recorded."""
    recorded = 0
    templates = {t["metadata"]["name"]: t for t in store.templates()}
    for obj in store.workspaces():
        if (obj.get("status") or {}).get("phase") != crd.PHASE_RUNNING:
            continue
        name = obj["metadata"]["name"]
        port = ide_port(templates.get((obj.get("spec") or {}).get("template", "")))
        try:
            url = url_template.format(
                workspace=name,
                namespace=names.namespace_for(name),
                port=port,
                service_ip=store.workspace_service_ip(name) if "{service_ip}" in url_template else "",
            )
            patch = heartbeat_activity(obj, fetch_health(url, get), clock())
            if patch:
                store.patch_workspace(name, patch)
                recorded += 1
                log.info("IDE activity", extra={"workspace": name})
        except Exception as err:  # this Workspace's answer or patch; the others still get probed
            log.info("probe failed", extra={"workspace": name, "error": type(err).__name__})
    return recorded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cps1-ide-prober", description=__doc__)
    parser.add_argument(
        "--url",
        default=DEFAULT_URL,
        help="template with {workspace}, {namespace}, {port} and {service_ip} (the Workspace Service's "
        "cluster IP, read from the API: for a prober outside the cluster's DNS, as `cps1 dev up` runs it)",
    )
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
