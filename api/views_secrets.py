"""/api/v1/me/secrets and /api/v1/me/profile: a user's own secrets (write-only: the api shows
their names, kinds and dates, never their values) and the Git identity and dotfiles their
Workspaces get. Workspaces receive the secrets they name in `spec.secrets` (see docs/secrets.md)."""

from apiflask import APIBlueprint, abort

from api import schemas
from api.auth import auth, current_user
from api.context import context
from common import usersecrets
from common.timefmt import format_time

bp = APIBlueprint("secrets", __name__, url_prefix="/api/v1/me", tag="Secrets")


@bp.get("/secrets")
@bp.auth_required(auth)
@bp.output(schemas.SecretList)
def list_secrets() -> dict:
    """Your secrets: name, kind, when created and last used (never the values)."""
    found = context().store.user_secrets(current_user().name)
    return {"items": sorted((usersecrets.describe(s) for s in found), key=lambda s: s["name"])}


@bp.put("/secrets/<name>")
@bp.auth_required(auth)
@bp.input(schemas.SecretIn, location="json")
@bp.output(schemas.Secret)
@bp.doc(responses=[200, 401, 409, 422])
def put_secret(name: str, json_data: dict) -> dict:
    """Store or replace a secret. Workspaces that receive it get the new value at their next
    start at the latest (files sooner)."""
    ctx = context()
    user = current_user().name
    problems = usersecrets.secret_problems(name, json_data["kind"], json_data["value"], json_data.get("host", ""))
    if problems:
        abort(422, "; ".join(f"{k}: {v}" for k, v in problems.items()), detail={"fields": problems})
    existing = {s.name: s for s in ctx.store.user_secrets(user)}
    if name not in existing and len(existing) >= usersecrets.MAX_SECRETS:
        abort(409, f"at most {usersecrets.MAX_SECRETS} secrets per user; remove one first")
    before = existing.get(name)
    secret = usersecrets.UserSecret(
        user=user,
        name=name,
        kind=json_data["kind"],
        value=json_data["value"],
        created=before.created if before else format_time(ctx.now()),
        host=json_data.get("host", "") if json_data["kind"] == "git-credential" else "",
        username=json_data.get("username", "") if json_data["kind"] == "git-credential" else "",
        last_used=before.last_used if before else "",
    )
    ctx.store.save_user_secret(secret)
    return usersecrets.describe(secret)


@bp.delete("/secrets/<name>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 404])
def delete_secret(name: str) -> tuple[str, int]:
    """Remove a secret. Workspaces that still name it report SecretsUnavailable and keep
    running as they are until it is stored again or no longer named."""
    store = context().store
    user = current_user().name
    if name not in {s.name for s in store.user_secrets(user)}:
        abort(404, f"no secret {name!r}")
    store.delete_user_secret(user, name)
    return "", 204


@bp.get("/profile")
@bp.auth_required(auth)
@bp.output(schemas.Profile)
def get_profile() -> dict:
    """Your Git name and email and your dotfiles repository."""
    return context().store.profile(current_user().name)


@bp.put("/profile")
@bp.auth_required(auth)
@bp.input(schemas.Profile, location="json")
@bp.output(schemas.Profile)
@bp.doc(responses=[200, 401, 422])
def put_profile(json_data: dict) -> dict:
    """Set your Git name and email (GIT_AUTHOR_* and GIT_COMMITTER_* in your Workspaces) and
    your dotfiles repository (applied at each Workspace's first start, instead of the
    template's). Fields left out are cleared."""
    store = context().store
    user = current_user().name
    profile = {field: json_data.get(field, "") for field in usersecrets.PROFILE_FIELDS}
    store.save_profile(user, profile)
    return profile
