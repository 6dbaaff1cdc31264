"""The hooks HTTP service Metacontroller calls: customize, sync, finalize, plus health and metrics.

Answers 200 only with a complete desired state. A request it cannot read answers 400 and any
internal error 500, so Metacontroller retries and deletes nothing; a user's mistake in a
Workspace is reported in its status by the sync function, never as an HTTP error.
"""

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, Response, jsonify, request

from common import crd, names
from common import metrics as common_metrics
from hooks import metrics
from hooks.protocol import SyncRequest, SyncResponse
from hooks.reconcile import safety, workspace
from hooks.render import usersecrets
from hooks.settings import Settings

log = logging.getLogger("cps1.hooks")

Clock = Callable[[], datetime]


class BadRequest(Exception):
    """The request body is not a Metacontroller hook request."""


def _read(body: object) -> tuple[SyncRequest, dict[str, Any]]:
    """The hook request and its parent, checked as far as the hooks read them."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    parent = body.get("parent")
    if not isinstance(parent, dict) or not isinstance(parent.get("metadata"), dict):
        raise BadRequest("parent with metadata is required")
    if not isinstance(parent["metadata"].get("name"), str):
        raise BadRequest("parent.metadata.name is required")
    for key in ("children", "related"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise BadRequest(f"{key} must be an object")
    if not isinstance(body.get("finalizing", False), bool):
        raise BadRequest("finalizing must be a boolean")
    if parent.get("spec") is not None and not isinstance(parent.get("spec"), dict):
        raise BadRequest("parent.spec must be an object")
    return cast(SyncRequest, body), parent


def customize_answer(parent: dict[str, Any], system_namespace: str) -> dict[str, Any]:
    """Bring in the Workspace's template by name, the storage classes (whether a class allows
    volume expansion decides whether a bigger home volume can be asked for), its namespace
    by name (one retained from an earlier Workspace of the same name is not ours to create),
    and its owner's profile and the secrets it names, from the system namespace."""
    rules: list[dict[str, Any]] = [
        {"apiVersion": "storage.k8s.io/v1", "resource": "storageclasses", "labelSelector": {}}
    ]
    name = parent["metadata"]["name"]
    rules.append({"apiVersion": "v1", "resource": "namespaces", "names": [names.namespace_for(name)]})
    template = (parent.get("spec") or {}).get("template")
    if isinstance(template, str) and template:
        rules.insert(0, {"apiVersion": crd.API_VERSION, "resource": crd.TEMPLATE_PLURAL, "names": [template]})
    owners = usersecrets.related_rule(parent, system_namespace)
    if owners:
        rules.append(owners)
    return {"relatedResources": rules}


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    now = clock or (lambda: datetime.now(UTC))
    app = Flask(__name__)

    def answer(hook: str, compute: Callable[[SyncRequest, dict[str, Any]], Mapping[str, Any]]) -> tuple[Response, int]:
        started = time.perf_counter()
        name = "?"
        try:
            body, parent = _read(request.get_json(force=True, silent=True))
            name = parent["metadata"]["name"]
            result = compute(body, parent)
            code = 200
        except BadRequest as err:
            result, code = {"error": str(err)}, 400
            log.warning("bad hook request", extra={"hook": hook, "workspace": name, "error": str(err)})
        except Exception:
            result, code = {"error": "internal error; Metacontroller will retry"}, 500
            log.exception("hook failed", extra={"hook": hook, "workspace": name})
        elapsed = time.perf_counter() - started
        metrics.HOOK_REQUESTS.labels(hook, str(code)).inc()
        metrics.HOOK_LATENCY.labels(hook).observe(elapsed)
        if code == 200 and "status" in result:
            phase = result["status"].get("phase", "")
            metrics.WORKSPACE_PHASES.labels(phase).inc()
            log.info(
                "hook answered",
                extra={"hook": hook, "workspace": name, "phase": phase, "ms": round(elapsed * 1000, 2)},
            )
        return jsonify(result), code

    def run_sync(body: SyncRequest, parent: dict[str, Any]) -> SyncResponse:
        children = body.get("children") or {}
        if body.get("finalizing"):
            result = workspace.finalize(parent, children)
            if parent["metadata"].get("deletionTimestamp"):
                return result
            # Finalizing a Workspace nobody deleted: never let that take the home volume.
        else:
            result = workspace.sync(parent, children, body.get("related") or {}, now=now(), settings=settings)
        return safety.keep_observed_volumes(result, children)

    @app.post("/sync")
    def sync() -> tuple[Response, int]:
        return answer("sync", run_sync)

    @app.post("/finalize")
    def finalize() -> tuple[Response, int]:
        return answer("finalize", run_sync)

    @app.post("/customize")
    def customize() -> tuple[Response, int]:
        return answer("customize", lambda body, parent: customize_answer(parent, settings.system_namespace))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Response:
        # Stateless and dependency-free: ready as soon as it serves.
        return jsonify(status="ready")

    @app.get("/metrics")
    def metrics_page() -> Response:
        body, content_type = common_metrics.exposition()
        return Response(body, content_type=content_type)

    return app
