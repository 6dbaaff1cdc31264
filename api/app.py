"""The Workspace Server API: a versioned REST API over Workspaces, templates, keys and tokens.

Authentication is a bearer token (or, when switched on, an identity header from a trusted
proxy); authorization is per user (own Workspaces and keys) or admin (everything). Every change
is written to the audit log; errors are JSON with a message and, for bad input, the fields.
"""

import logging
import time
from datetime import UTC, datetime

from apiflask import APIFlask
from flask import Response, g, jsonify, request
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException

import kubeclient
from api import views_accounts, views_oidc, views_preview, views_secrets, views_templates, views_workspaces
from api.context import Clock, Context
from api.errors import Conflict, NotFound, Rejected
from api.identity import Authenticator
from api.settings import Settings
from api.store import Store
from common import accounts
from common import metrics as metrics_page

log = logging.getLogger("cps1.api")
audit = logging.getLogger("cps1.audit")

REQUESTS = Counter(
    "cps1_api_requests_total", "API requests, by endpoint, method and status.", ["endpoint", "method", "code"]
)
LATENCY = Histogram("cps1_api_request_duration_seconds", "API request latency.", ["endpoint"])


def bootstrap(store: Store, settings: Settings) -> None:
    """Create the first admin and its configured token, once per installation: a record in
    the system namespace says it was done, so a revoked token or a demoted or disabled first
    admin stays that way across restarts (safe in every worker: creates are idempotent)."""
    if not (settings.bootstrap_admin and settings.bootstrap_token):
        return
    if not accounts.token_id(settings.bootstrap_token):
        raise ValueError("CPS1_API_BOOTSTRAP_TOKEN must read cps1_<12 lower-case hex>_<32+ url-safe characters>")
    if store.bootstrapped():
        return
    store.ensure_user(settings.bootstrap_admin, admin=True)
    store.create_token(settings.bootstrap_admin, "bootstrap", None, token=settings.bootstrap_token)
    store.mark_bootstrapped(settings.bootstrap_admin)


def outcome(status: int) -> str:
    """How the audit log names an answer: done, refused (the caller may not, or it is not
    theirs to see), or failed."""
    return "ok" if status < 400 else "denied" if status in (401, 403, 404) else "failed"


def rejected_status(err: Rejected) -> int:
    """The API server's refusal as our answer: bad input is the caller's 422, a 403 stays one,
    anything else is the cluster's failure (502)."""
    return 422 if err.status in (400, 422) else (403 if err.status == 403 else 502)


def create_app(settings: Settings | None = None, store: Store | None = None, clock: Clock | None = None) -> APIFlask:
    settings = settings or Settings.from_env()
    settings.check()
    if store is None:
        store = Store(kubeclient.dynamic_client(settings.kubeconfig), settings.system_namespace)
    app = APIFlask(__name__, title="CPS1 Workspace API", version="v1", spec_path="/api/v1/openapi.json", docs_path=None)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        VALIDATION_ERROR_STATUS_CODE=422,
        SPEC_FORMAT="json",
        INFO={"description": __doc__},
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
    )
    app.extensions["cps1"] = Context(
        store, settings, clock or (lambda: datetime.now(UTC)), Authenticator.create(store, settings)
    )

    @app.error_processor
    def error_body(error):
        return {"message": error.message, "detail": error.detail}, error.status_code, error.headers

    @app.errorhandler(Rejected)
    def refused_by_kubernetes(err: Rejected) -> tuple[Response, int]:
        return jsonify(message=err.message, detail={"fields": err.fields}), rejected_status(err)

    @app.errorhandler(NotFound)
    def not_found(err: NotFound) -> tuple[Response, int]:
        return jsonify(message=err.message, detail={}), 404

    @app.errorhandler(Conflict)
    def conflict(err: Conflict) -> tuple[Response, int]:
        return jsonify(message=err.message, detail={}), 409

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[Response, int]:
        return jsonify(message=err.description or err.name, detail={}), err.code or 500

    @app.before_request
    def start_timer() -> None:
        g.cps1_started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(time.perf_counter() - g.get("cps1_started", time.perf_counter()))
        user = g.get("cps1_user")
        # Every change is audited, and every reading of a secret (views set `cps1_audit_read`).
        changes = request.method not in ("GET", "HEAD", "OPTIONS") or g.get("cps1_audit_read", False)
        if changes and endpoint.startswith("/api/"):
            audit.info(
                "audit",
                extra={
                    "audit": True,
                    "actor": user.name if user else "",
                    "action": f"{request.method} {endpoint}",
                    "target": dict(request.view_args or {}),
                    "workspace": (request.view_args or {}).get("name", ""),
                    "status": response.status_code,
                    "outcome": outcome(response.status_code),
                },
            )
        return response

    @app.get("/healthz")
    @app.doc(hide=True)
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    @app.doc(hide=True)
    def readyz() -> tuple[Response, int]:
        try:
            store.templates()
        except Exception as err:
            log.warning("not ready", extra={"error": str(err)})
            return jsonify(status="kubernetes unreachable"), 503
        return jsonify(status="ready"), 200

    @app.get("/metrics")
    @app.doc(hide=True)
    def metrics() -> Response:
        body, content_type = metrics_page.exposition()
        return Response(body, content_type=content_type)

    for module in (views_workspaces, views_templates, views_accounts, views_secrets, views_preview, views_oidc):
        app.register_blueprint(module.bp)
    bootstrap(store, settings)
    return app
