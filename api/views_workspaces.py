"""/api/v1/workspaces: a user's own Workspaces (admins: everyone's).

Another user's Workspace answers 404, as if it did not exist, so names do not leak.
The owner is always the caller; it is never read from the body.
"""

from apiflask import APIBlueprint, abort
from flask import g

from api import presenters, schemas
from api.auth import auth, authorize, current_user
from api.context import context
from common import activity, crd, names, parameters, policy, previews
from common import workspace_limits as limits
from common.timefmt import format_time


def _visible(name: str) -> dict:
    store = context().store
    obj = None if names.workspace_name_error(name) else store.workspace(name)
    user = current_user()
    if obj is None or not (user.admin or (obj.get("spec") or {}).get("owner") == user.name):
        abort(404, f"workspace {name!r} not found")
    return obj


def _port_problems(spec: dict, template_spec: dict) -> dict[str, str]:
    """The Workspace's own ports that ask for more than the template allows (a default port
    of the template is the admin's own choice), under the field `ports`."""
    own = {int(p["port"]) for p in spec.get("ports") or []}
    declared = [p for p in previews.declared_ports(spec, template_spec) if p.port in own]
    tports = template_spec.get("ports") or {}
    reserved = {"IDE": tports.get("ide", 8080), "sshd": tports.get("ssh", 2222)}
    problems = {**previews.share_problems(declared, template_spec), **previews.reserved_problems(declared, reserved)}
    return {"ports": "; ".join(problems[n] for n in sorted(problems))} if problems else {}


def _check_against_template(
    template_name: str, spec: dict, previous: dict | None = None, changed: tuple[str, ...] | None = None
) -> None:
    """422 naming each bad parameter and each value over the template's maxima; immutable
    parameters may not change after creation. `spec` is the Workspace's spec as it would be;
    on an update only the `changed` fields are judged (a template edited since must not stop
    its users from changing something else)."""
    store = context().store
    template = store.template(template_name)
    if template is None:
        abort(422, f"workspace template {template_name!r} does not exist", detail={"fields": {"template": "not found"}})
    template_spec = template.get("spec") or {}
    user = current_user()
    if previous is None and not (user.admin or policy.template_allows(template_spec, user.name, user.groups)):
        abort(403, f"template {template_name!r} is not available to {user.name}; ask an admin")
    specs = template_spec.get("parameters") or []
    given = spec.get("parameters") or {}
    resolved = parameters.resolve(specs, given)
    fields = {f"parameters.{name}": problem for name, problem in resolved.problems.items()}
    fields.update(policy.template_limit_problems(spec, template_spec))
    fields.update(_port_problems(spec, template_spec))
    if previous is not None:
        for param in specs:
            name = param.get("name")
            if not param.get("mutable", True) and name in given and given.get(name) != previous.get(name):
                fields[f"parameters.{name}"] = f"parameter {name!r} cannot change after the workspace is created"
    if changed is not None:
        fields = {field: problem for field, problem in fields.items() if field.split(".")[0] in changed}
    if any(field.startswith("parameters.") for field in fields):
        abort(422, "invalid parameters", detail={"fields": fields})
    if fields:
        abort(422, "; ".join(fields.values()), detail={"fields": fields})


def _limits_of(user: str) -> limits.Limits:
    ctx = context()
    return limits.limits_of(ctx.store.user_configmap(user), ctx.settings.default_limits(), ctx.settings.limits_by_group)


def _refuse(problem: str | None) -> None:
    if problem:
        abort(409, problem)


def _check_limits(name: str, spec: dict, starts: bool) -> None:
    """409 when Workspace `name` with `spec` (as it would be) would take its owner past their
    running limit (when it `starts`) or past what their Workspaces may request."""
    store = context().store
    owner = spec.get("owner", "")
    own = _limits_of(owner)
    workspaces = store.workspaces()
    if starts:
        _refuse(limits.start_problem(owner, workspaces, own, name))
    templates = {t["metadata"]["name"]: t for t in store.templates()}
    _refuse(limits.request_problem(owner, workspaces, templates, own, name, spec))


def _check_secrets(owner: str, wanted: list[str] | None) -> None:
    """422 naming each secret the owner does not have (a Workspace receives its owner's only)."""
    if not wanted:
        return
    have = {s.name for s in context().store.user_secrets(owner)}
    missing = {
        f"secrets.{name}": "no such secret; store it first (PUT /api/v1/me/secrets/<name>)"
        for name in wanted
        if name not in have
    }
    if missing:
        abort(422, "unknown secrets: " + ", ".join(n for n in wanted if n not in have), detail={"fields": missing})


def _mark_used(spec: dict) -> None:
    """Record when the secrets of a Workspace that starts were last handed out."""
    ctx = context()
    if spec.get("running", True) and spec.get("secrets"):
        ctx.store.mark_secrets_used(spec.get("owner", ""), list(spec["secrets"]), format_time(ctx.now()))


# For the routes that take a body: another user's Workspace is a 404 before the body is read.
visible = authorize(lambda name, **_: _visible(name))


bp = APIBlueprint("workspaces", __name__, url_prefix="/api/v1/workspaces", tag="Workspaces")


@bp.get("")
@bp.auth_required(auth)
@bp.input(schemas.WorkspaceFilter, location="query")
@bp.output(schemas.WorkspaceList)
def list_workspaces(query_data: dict) -> dict:
    """List Workspaces: your own, or for an admin everyone's (filter by owner, template, phase)."""
    store = context().store
    user = current_user()
    owner = query_data.get("owner") if user.admin else user.name
    items = [presenters.workspace(w) for w in store.workspaces()]
    items = [
        w
        for w in items
        if (not owner or w["owner"] == owner)
        and (not query_data.get("template") or w["template"] == query_data["template"])
        and (not query_data.get("phase") or w["phase"] == query_data["phase"])
    ]
    return {"items": sorted(items, key=lambda w: w["name"])}


@bp.post("")
@bp.auth_required(auth)
@bp.input(schemas.WorkspaceCreate, location="json")
@bp.output(schemas.Workspace, status_code=201)
@bp.doc(responses=[201, 401, 403, 409, 422])
def create_workspace(json_data: dict) -> dict:
    """Create a Workspace from a template, owned by the caller."""
    ctx = context()
    spec = {k: v for k, v in json_data.items() if k != "name"}
    _check_against_template(json_data["template"], spec)
    user = current_user().name
    _refuse(limits.create_problem(user, ctx.store.workspaces(), _limits_of(user), json_data["running"]))
    spec["owner"] = user
    _check_secrets(user, spec.get("secrets"))
    _check_limits(json_data["name"], spec, starts=False)
    body = {
        "apiVersion": crd.API_VERSION,
        "kind": crd.WORKSPACE_KIND,
        "metadata": {"name": json_data["name"], **activity.activity_patch(ctx.now(), "api")["metadata"]},
        "spec": spec,
    }
    created = ctx.store.create_workspace(body)
    _mark_used(spec)
    return presenters.workspace(created)


@bp.get("/<name>")
@bp.auth_required(auth)
@bp.output(schemas.Workspace)
@bp.doc(responses=[200, 401, 404])
def get_workspace(name: str) -> dict:
    """One Workspace with its phase and conditions."""
    return presenters.workspace(_visible(name))


@bp.patch("/<name>")
@bp.auth_required(auth)
@visible
@bp.input(schemas.WorkspaceUpdate, location="json")
@bp.output(schemas.Workspace)
@bp.doc(responses=[200, 401, 404, 409, 422])
def update_workspace(name: str, json_data: dict) -> dict:
    """Change parameters, run state, keys, idle timeout, storage size or the secrets it receives."""
    ctx = context()
    obj = _visible(name)
    spec = obj.get("spec") or {}
    after = {**spec, **json_data, "storage": {**(spec.get("storage") or {}), **(json_data.get("storage") or {})}}
    _check_against_template(spec.get("template", ""), after, spec.get("parameters") or {}, tuple(json_data))
    _check_secrets(spec.get("owner", ""), json_data.get("secrets"))
    _check_limits(name, after, starts=bool(json_data.get("running")))
    if json_data.get("running") or "secrets" in json_data:
        _mark_used(after)
    patch = {"spec": dict(json_data), **activity.activity_patch(ctx.now(), "api")}
    if "parameters" in json_data:
        # Merge-patch semantics would keep removed keys; replace the map as a whole.
        old = spec.get("parameters") or {}
        patch["spec"]["parameters"] = {**{k: None for k in old}, **json_data["parameters"]}
    return presenters.workspace(ctx.store.patch_workspace(name, patch))


def _set_running(name: str, running: bool) -> dict:
    ctx = context()
    obj = _visible(name)
    if running:
        _check_limits(name, {**(obj.get("spec") or {}), "running": True}, starts=True)
        _mark_used({**(obj.get("spec") or {}), "running": True})
    return presenters.workspace(
        ctx.store.patch_workspace(name, {"spec": {"running": running}, **activity.activity_patch(ctx.now(), "api")})
    )


@bp.post("/<name>/start")
@bp.auth_required(auth)
@bp.output(schemas.Workspace)
@bp.doc(responses=[200, 401, 404, 409])
def start_workspace(name: str) -> dict:
    """Start a stopped Workspace (also one stopped as idle)."""
    return _set_running(name, True)


@bp.post("/<name>/stop")
@bp.auth_required(auth)
@bp.output(schemas.Workspace)
@bp.doc(responses=[200, 401, 404])
def stop_workspace(name: str) -> dict:
    """Stop a Workspace; its home volume is kept."""
    return _set_running(name, False)


@bp.post("/<name>/keepalive")
@bp.auth_required(auth)
@visible
@bp.input(schemas.KeepAlive, location="json")
@bp.output(schemas.Workspace)
@bp.doc(responses=[200, 401, 404, 422])
def keep_alive(name: str, json_data: dict) -> dict:
    """Keep a Workspace running past its idle timeout for a long job."""
    ctx = context()
    _visible(name)
    seconds = min(json_data["seconds"], ctx.settings.max_keep_alive_seconds)
    return presenters.workspace(ctx.store.patch_workspace(name, activity.keep_alive_patch(ctx.now(), seconds)))


@bp.delete("/<name>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 404])
def delete_workspace(name: str) -> tuple[str, int]:
    """Delete a Workspace (its home volume too, unless it asked to retain it)."""
    store = context().store
    _visible(name)
    store.delete_workspace(name)
    return "", 204


@bp.get("/<name>/ide-password")
@bp.auth_required(auth)
@bp.output(schemas.IdePassword)
@bp.doc(responses=[200, 401, 404, 409])
def ide_password(name: str) -> dict:
    """The password code-server asks for when its IDE opens (the owner's and admins' only;
    each reading is audited)."""
    g.cps1_audit_read = True  # attempts too: a denied reading is the one to notice
    store = context().store
    _visible(name)
    password = store.ide_password(name)
    if password is None:
        abort(409, f"workspace {name!r} has no IDE password yet; it is made when the workspace is first set up")
    return {"password": password}


@bp.get("/<name>/events")
@bp.auth_required(auth)
@bp.output(schemas.EventList)
@bp.doc(responses=[200, 401, 404])
def workspace_events(name: str) -> dict:
    """Recent Kubernetes events of the Workspace and of everything in it."""
    store = context().store
    _visible(name)
    return {"items": [presenters.event(e) for e in store.events(name)]}
