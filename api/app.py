"""The Workspace Server API: a versioned REST API over Workspaces, templates, keys and tokens.

Authentication is a bearer token (or, when switched on, an identity header from a trusted
proxy); authorization is per user (own Workspaces and keys) or admin (everything). Every change
is written to the audit log; errors are JSON with a message and, for bad input, the fields.
"""

import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from apiflask import APIFlask, HTTPTokenAuth, abort
from flask import Response, current_app, g, jsonify, request
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException

from api import auth as auth_module
from api.settings import Settings
from api.store import KubernetesRejected, Store, User
from common import accounts
from common import metrics as metrics_page

log = logging.getLogger("cps1.api")
audit = logging.getLogger("cps1.audit")

REQUESTS = Counter(
    "cps1_api_requests_total", "API requests, by endpoint, method and status.", ["endpoint", "method", "code"]
)
LATENCY = Histogram("cps1_api_request_duration_seconds", "API request latency.", ["endpoint"])

Clock = Callable[[], datetime]
View = TypeVar("View", bound=Callable[..., object])


class TokenOrProxyAuth(HTTPTokenAuth):
    """Bearer tokens; a request without one is still verified, so a trusted proxy's identity
    header can authenticate it (Flask-HTTPAuth skips verification when no token is sent)."""

    def authenticate(self, auth, stored_password):  # type: ignore[no-untyped-def]
        return self.ensure_sync(self.verify_token_callback)(getattr(auth, "token", None) or "")


def current_user() -> User:
    return g.cps1_user  # type: ignore[no-any-return]


def deps() -> tuple[Store, Settings, Clock]:
    ext = current_app.extensions["cps1"]
    return ext["store"], ext["settings"], ext["clock"]


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


def authenticator() -> auth_module.Authenticator:
    return current_app.extensions["cps1"]["authenticator"]  # type: ignore[no-any-return]


def create_app(settings: Settings | None = None, store: Store | None = None, clock: Clock | None = None) -> APIFlask:
    settings = settings or Settings.from_env()
    settings.check()
    if store is None:
        from cps1 import kube

        store = Store(kube.dynamic_client(settings.kubeconfig), settings.system_namespace)
    now = clock or (lambda: datetime.now(UTC))
    app = APIFlask(__name__, title="CPS1 Workspace API", version="v1", spec_path="/api/v1/openapi.json", docs_path=None)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        VALIDATION_ERROR_STATUS_CODE=422,
        SPEC_FORMAT="json",
        INFO={"description": __doc__},
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
    )
    authenticator = auth_module.Authenticator.create(store, settings)
    app.extensions["cps1"] = {"store": store, "settings": settings, "clock": now, "authenticator": authenticator}
    auth = TokenOrProxyAuth(scheme="Bearer", description="an API token (cps1 login), or a trusted proxy's header")
    app.extensions["cps1"]["auth"] = auth

    @auth.verify_token
    def verify(token: str) -> User | None:
        source = auth_module.client_source(
            request.remote_addr, request.headers.get("X-Forwarded-For", ""), settings.forwarded_trusted_networks
        )
        wait = authenticator.throttle.wait(source)
        if wait:
            abort(
                429,
                "too many failed sign-ins from your address; try again later",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        named = request.headers.get(settings.proxy_user_header, "") if settings.proxy_user_header else ""
        if token:
            user = authenticator.from_token(token, now())
        elif named:
            secret = request.headers.get(settings.proxy_secret_header, "")
            user = authenticator.from_proxy(request.remote_addr, named, secret)
        else:
            return None  # no credentials: a plain 401, and nothing to throttle
        if user is None:
            authenticator.throttle.failed(source)
        else:
            g.cps1_user = user
        return user

    @auth.error_handler
    def unauthorized(status: int) -> tuple[Response, int]:
        return jsonify(message="authentication required: send 'Authorization: Bearer <token>'", detail={}), 401

    @app.error_processor
    def error_body(error):  # type: ignore[no-untyped-def]
        return {"message": error.message, "detail": error.detail}, error.status_code, error.headers

    @app.errorhandler(KubernetesRejected)
    def kubernetes_rejected(err: KubernetesRejected) -> tuple[Response, int]:
        code = 422 if err.status in (400, 422) else (403 if err.status == 403 else 502)
        return jsonify(message=err.message, detail={"fields": err.fields}), code

    @app.errorhandler(NotFoundError)
    def not_found(err: Exception) -> tuple[Response, int]:
        return jsonify(message="not found", detail={}), 404

    @app.errorhandler(ConflictError)
    def conflict(err: Exception) -> tuple[Response, int]:
        return jsonify(message="it already exists or changed meanwhile; retry", detail={}), 409

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
                    "outcome": "ok"
                    if response.status_code < 400
                    else "denied"
                    if response.status_code in (401, 403, 404)
                    else "failed",
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

    from api import views_accounts, views_templates, views_workspaces

    for module in (views_workspaces, views_templates, views_accounts):
        app.register_blueprint(module.blueprint(auth))
    bootstrap(store, settings)
    return app


def forbid_unless_admin() -> None:
    if not current_user().admin:
        abort(403, "only admins may do this")


def authorize(check: Callable[..., object]) -> Callable[[View], View]:
    """Run `check(**path arguments)` after authentication and before the body is validated, as
    the Kubernetes API server does: a caller who may not act learns nothing from a 422.
    Goes between `auth_required` and `input`."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: object, **kwargs: object) -> object:
            check(**kwargs)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorator


def _admins_only(**_: object) -> None:
    forbid_unless_admin()


admin_required = authorize(_admins_only)
