"""/api/v1/me (who am I, my SSH keys, my API tokens) and /api/v1/users (admins: users, their
tokens, and switching a user off)."""

from datetime import timedelta

from apiflask import APIBlueprint, abort

from api import presenters, schemas
from api.auth import admin_required, auth, current_user
from api.context import context
from common import accounts, workspace_limits
from common.timefmt import format_time

MAX_KEYS = 32
MAX_TOKENS = 20


def _issue_token(user: str, json_data: dict) -> dict:
    ctx = context()
    if len(ctx.store.tokens(user)) >= MAX_TOKENS:
        abort(409, f"at most {MAX_TOKENS} tokens per user; revoke one first")
    days = json_data.get("expiresInDays")
    expires = ctx.now() + timedelta(days=days) if days else None
    token_id, token = ctx.store.create_token(user, json_data["name"], expires)
    created = format_time(ctx.now())
    return {
        "id": token_id,
        "name": json_data["name"],
        "created": created,
        "expires": format_time(expires) if expires else "",
        "token": token,
    }


def _token_list(user: str) -> dict:
    store = context().store
    return {"items": sorted((presenters.token(r) for r in store.tokens(user)), key=lambda t: t["created"])}


def _revoke(user: str, token_id: str) -> tuple[str, int]:
    """Revoke `user`'s token; any other token id is a 404, so ids of others do not leak."""
    store = context().store
    record = store.token(token_id)
    if record is None or record.user != user:
        abort(404, f"no token {token_id}")
    store.delete_token(token_id)
    context().authenticator.forget_token(token_id)
    return "", 204


def _existing_user(name: str) -> dict:
    store = context().store
    configmap = None if accounts.user_name_error(name) else store.user_configmap(name)
    if configmap is None:
        abort(404, f"user {name!r} not found")
    return configmap


bp = APIBlueprint("accounts", __name__, url_prefix="/api/v1", tag="Accounts")


def _present(configmap: dict) -> dict:
    settings = context().settings
    effective = workspace_limits.limits_of(configmap, settings.default_limits(), settings.limits_by_group)
    return presenters.user(configmap, settings.admins, effective)


@bp.get("/me")
@bp.auth_required(auth)
@bp.output(schemas.User)
def me() -> dict:
    """Who the caller is."""
    ctx = context()
    user = current_user()
    return {
        **_present(ctx.store.user_configmap(user.name) or {}),
        "name": user.name,
        "admin": user.admin,
    }


@bp.get("/me/keys")
@bp.auth_required(auth)
@bp.output(schemas.KeyList)
def list_keys() -> dict:
    """Your registered SSH public keys (the gateway accepts them for all your Workspaces)."""
    store = context().store
    return {"items": accounts.keys_of(store.user_configmap(current_user().name))}


@bp.post("/me/keys")
@bp.auth_required(auth)
@bp.input(schemas.KeyIn, location="json")
@bp.output(schemas.Key, status_code=201)
@bp.doc(responses=[201, 401, 409, 422])
def add_key(json_data: dict) -> dict:
    """Register an SSH public key (an authorized_keys line)."""
    ctx = context()
    try:
        key = accounts.parse_public_key(json_data["key"])
    except ValueError as err:
        abort(422, str(err), detail={"fields": {"key": str(err)}})
    user = current_user().name
    keys = accounts.keys_of(ctx.store.user_configmap(user))
    if any(k.get("fingerprint") == key.fingerprint for k in keys):
        abort(409, f"key {key.fingerprint} is already registered")
    if len(keys) >= MAX_KEYS:
        abort(409, f"at most {MAX_KEYS} keys per user")
    entry = {
        "name": json_data.get("name") or key.comment or key.type,
        "key": key.line,
        "fingerprint": key.fingerprint,
        "added": format_time(ctx.now()),
    }
    ctx.store.save_keys(user, [*keys, entry])
    return entry


@bp.delete("/me/keys/<path:fingerprint>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 404])
def remove_key(fingerprint: str) -> tuple[str, int]:
    """Remove a registered key by its SHA256 fingerprint."""
    store = context().store
    user = current_user().name
    keys = accounts.keys_of(store.user_configmap(user))
    kept = [k for k in keys if k.get("fingerprint") != fingerprint]
    if len(kept) == len(keys):
        abort(404, f"no key with fingerprint {fingerprint}")
    store.save_keys(user, kept)
    return "", 204


@bp.get("/me/tokens")
@bp.auth_required(auth)
@bp.output(schemas.TokenList)
def list_tokens() -> dict:
    """Your API tokens (never the tokens themselves)."""
    return _token_list(current_user().name)


@bp.post("/me/tokens")
@bp.auth_required(auth)
@bp.input(schemas.TokenIn, location="json")
@bp.output(schemas.TokenCreated, status_code=201)
@bp.doc(responses=[201, 401, 409, 422])
def create_token(json_data: dict) -> dict:
    """A new API token; the answer is the only time it is shown."""
    return _issue_token(current_user().name, json_data)


@bp.delete("/me/tokens/<token_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 404])
def revoke_token(token_id: str) -> tuple[str, int]:
    """Revoke one of your tokens."""
    return _revoke(current_user().name, token_id)


@bp.get("/users")
@bp.auth_required(auth)
@bp.output(schemas.UserList)
@bp.doc(responses=[200, 401, 403])
@admin_required
def list_users() -> dict:
    """Every user (admins)."""
    ctx = context()
    users = (_present(c) for c in ctx.store.users())
    return {"items": sorted(users, key=lambda u: u["name"])}


@bp.post("/users")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.UserIn, location="json")
@bp.output(schemas.User, status_code=201)
@bp.doc(responses=[201, 401, 403, 409, 422])
def create_user(json_data: dict) -> dict:
    """Create a user, or change whether one is an admin (admins)."""
    ctx = context()
    context().authenticator.forget_user(json_data["name"])
    return _present(ctx.store.ensure_user(json_data["name"], admin=json_data["admin"]))


@bp.patch("/users/<name>")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.UserUpdate, location="json")
@bp.output(schemas.User)
@bp.doc(responses=[200, 401, 403, 404, 409, 422])
def update_user(name: str, json_data: dict) -> dict:
    """Make a user an admin or not, or disable them (admins). A disabled user's tokens and
    SSH keys stop working at once; their running Workspaces keep running until stopped."""
    ctx = context()
    _existing_user(name)
    if name == current_user().name and (json_data.get("disabled") or json_data.get("admin") is False):
        abort(409, "you cannot disable or demote yourself; ask another admin")
    configmap = ctx.store.ensure_user(
        name,
        admin=json_data.get("admin"),
        disabled=json_data.get("disabled"),
        limits=json_data.get("limits"),
        groups=json_data.get("groups"),
    )
    context().authenticator.forget_user(name)
    return _present(configmap)


@bp.get("/users/<name>/tokens")
@bp.auth_required(auth)
@bp.output(schemas.TokenList)
@bp.doc(responses=[200, 401, 403, 404])
@admin_required
def list_user_tokens(name: str) -> dict:
    """A user's API tokens (admins)."""
    _existing_user(name)
    return _token_list(name)


@bp.delete("/users/<name>/tokens/<token_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 403, 404])
@admin_required
def revoke_user_token(name: str, token_id: str) -> tuple[str, int]:
    """Revoke any user's token (admins), the first admin's too."""
    return _revoke(name, token_id)


@bp.post("/users/<name>/tokens")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.TokenIn, location="json")
@bp.output(schemas.TokenCreated, status_code=201)
@bp.doc(responses=[201, 401, 403, 404, 409, 422])
def create_user_token(name: str, json_data: dict) -> dict:
    """Issue a token for a user, to hand over once (admins)."""
    _existing_user(name)
    return _issue_token(name, json_data)
