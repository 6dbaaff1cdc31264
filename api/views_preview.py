"""Preview URLs and the IDE behind CPS1's sign-in: /preview/auth, which the ingress controller
asks before every request to a Workspace host (the decision is api/preview_auth.py), and
/api/v1/preview/grants, which gives a signed-in user the link that signs their browser in to
one such host. Off (404) until CPS1_API_PREVIEW_SECRET is set.

A request let through to a preview port counts as the Workspace's activity (source `port`),
recorded at most once a minute per Workspace, with an audit line naming who opened it. Several
API processes (gunicorn workers, replicas) each keep their own minute, so the patch is made on
the Workspace's resourceVersion as read: the API server lets one of them record it.
"""

import logging
import threading
from datetime import datetime, timedelta

from apiflask import APIBlueprint, abort
from flask import Response, current_app, make_response, request

from api import preview_auth, schemas
from api.auth import auth, current_user
from api.context import Context, context
from api.errors import Conflict, StoreError
from api.identity import TtlCache
from common import activity, names, previews

log = logging.getLogger("cps1.api")
audit = logging.getLogger("cps1.audit")
ACTIVITY_EVERY = timedelta(minutes=1)

bp = APIBlueprint("preview", __name__, tag="Preview URLs")


class Lookups:
    """Workspaces and templates as the per-request check reads them: cached a moment (a page
    load is dozens of requests), and when each Workspace's port activity was last recorded."""

    def __init__(self, seconds: float) -> None:
        self.workspaces = TtlCache(seconds)
        self.templates = TtlCache(seconds)
        self.recorded: dict[str, datetime] = {}
        self.lock = threading.Lock()

    def target(self, ctx: Context, host: str) -> preview_auth.Target | None:
        parsed = previews.parse_host(host, ctx.settings.preview_domain)
        if parsed is None or names.workspace_name_error(parsed[0]):
            return None
        with self.lock:
            ws = self.workspaces.get(parsed[0], lambda: ctx.store.workspace(parsed[0]))
            template_name = ((ws or {}).get("spec") or {}).get("template", "")
            template = self.templates.get(template_name, lambda: ctx.store.template(template_name)) if ws else None
        return preview_auth.target(host, ctx.settings.preview_domain, ws, template)

    def due(self, opened: preview_auth.Target, now: datetime) -> bool:
        """Whether port activity should be recorded now (and mark it so): not when this
        process or the Workspace's annotation recorded some in the last minute."""
        with self.lock:
            last = max(filter(None, [self.recorded.get(opened.workspace), opened.last_activity]), default=None)
            if last is not None and now - last < ACTIVITY_EVERY:
                return False
            self.recorded[opened.workspace] = now
            return True

    def forget(self, opened: preview_auth.Target, now: datetime) -> None:
        """Undo `due` when the patch was refused: the next request reads the Workspace again."""
        with self.lock:
            if self.recorded.get(opened.workspace) == now:
                del self.recorded[opened.workspace]
            self.workspaces.drop(opened.workspace)


def _lookups(ctx: Context) -> Lookups:
    extensions = current_app.extensions
    if "cps1.preview" not in extensions:
        extensions["cps1.preview"] = Lookups(ctx.settings.preview_cache_seconds)
    return extensions["cps1.preview"]


def _enabled(ctx: Context) -> None:
    if not ctx.settings.preview_secret:
        abort(404, "preview URLs are not configured")


def _record(ctx: Context, verdict: preview_auth.Verdict, req: preview_auth.Request) -> None:
    opened = verdict.opened
    if opened is None or opened.port is None:
        return  # the IDE reports its own activity (the prober)
    now = ctx.now()
    if verdict.reason == "allowed" and not _lookups(ctx).due(opened, now):
        return
    if verdict.reason == "allowed":
        patch = activity.activity_patch(now, "port")
        if opened.resource_version:
            patch["metadata"]["resourceVersion"] = opened.resource_version
        try:
            ctx.store.patch_workspace(opened.workspace, patch)
        except Conflict:  # changed since it was read: another process may have recorded it
            _lookups(ctx).forget(opened, now)
            return
        except StoreError:  # e.g. deleted meanwhile: the request itself is still let through
            log.warning("port activity not recorded", extra={"workspace": opened.workspace}, exc_info=True)
    audit.info(
        "audit",
        extra={
            "audit": True,
            "actor": verdict.user,
            "action": "open port" if verdict.reason == "allowed" else "grant port",
            "workspace": opened.workspace,
            "target": {"port": opened.port, "share": opened.share, "host": req.hostname},
            "status": verdict.status,
            "outcome": "ok",
        },
    )


@bp.get("/preview/auth")
@bp.doc(hide=True)
def check() -> Response:
    """Asked by the ingress controller with the original request in X-Forwarded-* headers."""
    ctx = context()
    _enabled(ctx)
    settings = ctx.settings
    req = preview_auth.Request(
        host=request.headers.get("X-Forwarded-Host", ""),
        uri=request.headers.get("X-Forwarded-Uri", "/"),
        scheme=request.headers.get("X-Forwarded-Proto", "http"),
        method=request.headers.get("X-Forwarded-Method", "GET"),
        cookie=request.cookies.get(preview_auth.COOKIE, ""),
    )
    now = ctx.now()
    tgt = _lookups(ctx).target(ctx, req.host)
    named = preview_auth.verify(
        req.cookie, settings.preview_secret, kind=preview_auth.SESSION, host=req.hostname, now=now
    )
    session_user = named if named and ctx.authenticator.user(named) else None
    verdict = preview_auth.decide(
        req, tgt, session_user, secret=settings.preview_secret, sign_in_url=settings.preview_sign_in_url, now=now
    )
    _record(ctx, verdict, req)
    response = make_response(verdict.reason + "\n", verdict.status)
    response.headers.update(verdict.headers)
    response.headers["Cache-Control"] = "no-store"
    response.mimetype = "text/plain"
    return response


@bp.post("/api/v1/preview/grants")
@bp.auth_required(auth)
@bp.input(schemas.PreviewGrantIn, location="json")
@bp.output(schemas.PreviewGrant, status_code=201)
@bp.doc(responses=[201, 401, 404])
def grant(json_data: dict) -> dict:
    """A link that signs the caller's browser in to one Workspace URL (valid a minute)."""
    ctx = context()
    _enabled(ctx)
    url = json_data["url"]
    host = url.split("://", 1)[-1].split("/", 1)[0]
    user = current_user()
    tgt = _lookups(ctx).target(ctx, host)
    if tgt is None or not preview_auth.may_open(tgt, user.name):
        abort(404, "no such workspace URL shared with you")
    if tgt.share == previews.PUBLIC:
        return {"url": url}
    return {"url": preview_auth.grant_url(url, user.name, secret=ctx.settings.preview_secret, now=ctx.now())}
