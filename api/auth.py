"""Who is calling and what they may do, on the Flask side: the bearer-token-or-proxy check every
route declares (`@bp.auth_required(auth)`), the caller (`current_user`), and the checks that run
before a body is validated (`authorize`, `admin_required`). How a token or a proxy header
becomes a user is api/identity.py."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from apiflask import HTTPTokenAuth, abort
from flask import Response, g, jsonify, request

from api import identity
from api.context import context
from api.store import User

P = ParamSpec("P")
R = TypeVar("R")


class TokenOrProxyAuth(HTTPTokenAuth):
    """Bearer tokens; a request without one is still verified, so a trusted proxy's identity
    header can authenticate it (Flask-HTTPAuth skips verification when no token is sent)."""

    def authenticate(self, auth, stored_password):
        return self.ensure_sync(self.verify_token_callback)(getattr(auth, "token", None) or "")


auth = TokenOrProxyAuth(scheme="Bearer", description="an API token (cps1 login), or a trusted proxy's header")


@auth.verify_token
def verify(token: str) -> User | None:
    ctx = context()
    settings, authenticator = ctx.settings, ctx.authenticator
    source = identity.client_source(
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
        user = authenticator.from_token(token, ctx.now())
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


def current_user() -> User:
    return g.cps1_user


def forbid_unless_admin() -> None:
    if not current_user().admin:
        abort(403, "only admins may do this")


def authorize(check: Callable[..., object]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run `check(**path arguments)` after authentication and before the body is validated, as
    the Kubernetes API server does: a caller who may not act learns nothing from a 422.
    Goes between `auth_required` and `input`."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            check(**kwargs)
            return view(*args, **kwargs)

        return checked

    return decorator


def _admins_only(**_: object) -> None:
    forbid_unless_admin()


admin_required = authorize(_admins_only)
