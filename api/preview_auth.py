"""Who may open a Workspace's URLs: the pure decision behind /preview/auth, which the ingress
controller asks before every request to an IDE host or a preview host (Caddy's forward_auth,
ingress-nginx's auth-url).

A browser proves who it is with a session cookie of that one host (no Domain attribute, so
each Workspace URL, an origin of its own, has its own cookie and no page of one can read or
send another's). The cookie comes from a grant: the api, asked by a signed-in user (console,
CLI), signs a short-lived ticket for one host, and the browser brings it to
`<host>/.cps1/grant?ticket=...`, which this decision answers with the cookie and a redirect to
the page asked for. A public port needs and gets no cookie. Tickets and cookies are
HMAC-signed claims (user, host, expiry, kind), so the api keeps no session state.
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from common import crd, previews
from common.timefmt import parse_time

COOKIE = "cps1_preview"
GRANT_PATH = "/.cps1/grant"
GRANT_SECONDS = 60
SESSION_SECONDS = 12 * 3600
USER_HEADER = "X-CPS1-User"
GRANT, SESSION = "grant", "session"


def sign(claims: dict[str, Any], secret: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()).decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(token: str, secret: str, *, kind: str, host: str, now: datetime) -> str | None:
    """The user a ticket or cookie of `kind` names, when it is signed by `secret`, made for
    `host` and not expired; else None."""
    body, _, mac = token.partition(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if not isinstance(claims, dict) or claims.get("kind") != kind or claims.get("host") != host:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        return None
    user = claims.get("user")
    return user if isinstance(user, str) and user else None


def claims(user: str, host: str, kind: str, now: datetime, seconds: int) -> dict[str, Any]:
    return {"user": user, "host": host, "kind": kind, "exp": int(now.timestamp()) + seconds}


@dataclass(frozen=True)
class Request:
    """What the ingress controller tells about the request it holds."""

    host: str  # X-Forwarded-Host, with its port when not the scheme's
    uri: str  # X-Forwarded-Uri: path and query
    scheme: str = "http"
    method: str = "GET"
    cookie: str = ""  # the value of COOKIE, "" when absent

    @property
    def hostname(self) -> str:
        return self.host.split(":", 1)[0].lower()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.uri}"


@dataclass(frozen=True)
class Target:
    """The Workspace a host belongs to, and what it takes to open it there."""

    workspace: str
    port: int | None  # None: the IDE
    owner: str
    share: str  # the level served at (capped by the template); the IDE is owner-only
    running: bool
    last_activity: datetime | None = None
    # The Workspace as read: port activity is patched on this version only, so of several
    # API processes that saw the same stale activity, one records it (and audits it).
    resource_version: str = ""


def target(host: str, domain: str, workspace: dict[str, Any] | None, template: dict[str, Any] | None) -> Target | None:
    """The Target of `host`, or None when the host names no Workspace or no port it exposes."""
    parsed = previews.parse_host(host, domain)
    if parsed is None or workspace is None:
        return None
    name, port = parsed
    spec = workspace.get("spec") or {}
    if (workspace.get("metadata") or {}).get("name") != name:
        return None
    owner, running = spec.get("owner", ""), bool(spec.get("running", True))
    metadata = workspace.get("metadata") or {}
    last = parse_time((metadata.get("annotations") or {}).get(crd.ANNOTATION_LAST_ACTIVITY))
    version = str(metadata.get("resourceVersion") or "")
    if port is None:
        return Target(name, None, owner, previews.OWNER, running, last, version)
    template_spec = (template or {}).get("spec") or {}
    declared = {p.port: p for p in previews.declared_ports(spec, template_spec)}
    if port not in declared:
        return None
    share = previews.capped(declared[port].share, previews.max_share(template_spec))
    return Target(name, port, owner, share, running, last, version)


def may_open(tgt: Target, user: str | None) -> bool:
    if tgt.share == previews.PUBLIC:
        return True
    if user is None:
        return False
    return tgt.share == previews.AUTHENTICATED or user == tgt.owner


@dataclass(frozen=True)
class Verdict:
    """The answer to the ingress controller: 2xx lets the request through (with the user's name
    in USER_HEADER for the app), anything else goes to the browser as it is."""

    status: int
    reason: str
    user: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # Set when the request is let through: the Workspace and port it opened.
    opened: Target | None = None


def session_cookie(req: Request, user: str, secret: str, now: datetime) -> str:
    value = sign(claims(user, req.hostname, SESSION, now, SESSION_SECONDS), secret)
    secure = "; Secure" if req.scheme == "https" else ""
    return f"{COOKIE}={value}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; SameSite=Lax{secure}"


def _local_path(value: str) -> str:
    """A redirect target on the same host: a path, never another origin (`//evil`, `http:`)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


def decide(
    req: Request,
    tgt: Target | None,
    session_user: str | None,
    *,
    secret: str,
    sign_in_url: str,
    now: datetime,
) -> Verdict:
    """Let through, redirect (to sign in, or out of a grant with its cookie), or refuse.
    `session_user` is the user of a valid cookie of this host, still enabled."""
    if tgt is None:
        return Verdict(404, "no such workspace port")
    parts = urlsplit(req.uri)
    if parts.path == GRANT_PATH:
        ticket = (parse_qs(parts.query).get("ticket") or [""])[0]
        user = verify(ticket, secret, kind=GRANT, host=req.hostname, now=now)
        if user is None:
            return Verdict(403, "the link has expired or is not for this address; open it again from CPS1")
        headers = {"Location": _local_path((parse_qs(parts.query).get("next") or ["/"])[0])}
        if tgt.share != previews.PUBLIC:  # a public port gets no CPS1 cookie
            headers["Set-Cookie"] = session_cookie(req, user, secret, now)
        return Verdict(302, "granted", user, headers, tgt)
    if may_open(tgt, session_user):
        return Verdict(200, "allowed", session_user or "", {USER_HEADER: session_user or ""}, tgt)
    if session_user is not None:
        return Verdict(403, f"{tgt.workspace} is not shared with {session_user}", session_user)
    if req.method in ("GET", "HEAD") and sign_in_url:
        return Verdict(302, "sign-in required", headers={"Location": f"{sign_in_url}?next={quote(req.url, safe='')}"})
    return Verdict(401, "sign-in required")


def grant_url(url: str, user: str, *, secret: str, now: datetime) -> str:
    """The address that signs `user`'s browser in to `url`'s host and lands on `url`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    ticket = sign(claims(user, host, GRANT, now, GRANT_SECONDS), secret)
    next_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}{GRANT_PATH}?ticket={ticket}&next={quote(next_path, safe='')}"
