"""/api/v1/workspaces: a user's own Workspaces (admins: everyone's).

Another user's Workspace answers 404, as if it did not exist, so names do not leak.
The owner is always the caller; it is never read from the body.
"""

from apiflask import APIBlueprint, HTTPTokenAuth, abort
from flask import g

from api import activity, limits, presenters, schemas
from api.app import authorize, current_user, deps
from common import crd, names, parameters, policy


def _visible(name: str) -> dict:
    store, _, _ = deps()
    obj = None if names.workspace_name_error(name) else store.workspace(name)
    user = current_user()
    if obj is None or not (user.admin or (obj.get("spec") or {}).get("owner") == user.name):
        abort(404, f"workspace {name!r} not found")
    return obj


def _check_against_template(
    template_name: str, spec: dict, previous: dict | None = None, changed: tuple[str, ...] | None = None
) -> None:
    """422 naming each bad parameter and each value over the template's maxima; immutable
    parameters may not change after creation. `spec` is the Workspace's spec as it would be;
    on an update only the `changed` fields are judged (a template edited since must not stop
    its users from changing something else)."""
    store, _, _ = deps()
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
    store, settings, _ = deps()
    default = limits.Limits(settings.max_workspaces_per_user, settings.max_running_per_user)
    return limits.limits_of(store.user_configmap(user), default)


def _refuse(problem: str | None) -> None:
    if problem:
        abort(409, problem)


def _check_start(workspace: dict) -> None:
    """409 when starting `workspace` would put its owner over their running limit."""
    store, _, _ = deps()
    owner = (workspace.get("spec") or {}).get("owner", "")
    name = (workspace.get("metadata") or {}).get("name", "")
    _refuse(limits.start_problem(owner, store.workspaces(), _limits_of(owner), name))


# For the routes that take a body: another user's Workspace is a 404 before the body is read.
visible = authorize(lambda name, **_: _visible(name))


def blueprint(auth: HTTPTokenAuth) -> APIBlueprint:
    bp = APIBlueprint("workspaces", __name__, url_prefix="/api/v1/workspaces", tag="Workspaces")

    @bp.get("")
    @bp.auth_required(auth)
    @bp.input(schemas.WorkspaceFilter, location="query")
    @bp.output(schemas.WorkspaceList)
    def list_workspaces(query_data: dict) -> dict:
        """List Workspaces: your own, or for an admin everyone's (filter by owner, template, phase)."""
        store, _, _ = deps()
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
        store, _, now = deps()
        spec = {k: v for k, v in json_data.items() if k != "name"}
        _check_against_template(json_data["template"], spec)
        user = current_user().name
        _refuse(limits.create_problem(user, store.workspaces(), _limits_of(user), json_data["running"]))
        spec["owner"] = current_user().name
        body = {
            "apiVersion": crd.API_VERSION,
            "kind": crd.WORKSPACE_KIND,
            "metadata": {"name": json_data["name"], **activity.activity_patch(now())["metadata"]},
            "spec": spec,
        }
        return presenters.workspace(store.create_workspace(body))

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
        """Change parameters, run state, keys, idle timeout or storage size."""
        store, _, now = deps()
        obj = _visible(name)
        spec = obj.get("spec") or {}
        after = {**spec, **json_data, "storage": {**(spec.get("storage") or {}), **(json_data.get("storage") or {})}}
        _check_against_template(spec.get("template", ""), after, spec.get("parameters") or {}, tuple(json_data))
        if json_data.get("running"):
            _check_start(obj)
        patch = {"spec": dict(json_data), **activity.activity_patch(now())}
        if "parameters" in json_data:
            # Merge-patch semantics would keep removed keys; replace the map as a whole.
            old = spec.get("parameters") or {}
            patch["spec"]["parameters"] = {**{k: None for k in old}, **json_data["parameters"]}
        return presenters.workspace(store.patch_workspace(name, patch))

    def _set_running(name: str, running: bool) -> dict:
        store, _, now = deps()
        obj = _visible(name)
        if running:
            _check_start(obj)
        return presenters.workspace(
            store.patch_workspace(name, {"spec": {"running": running}, **activity.activity_patch(now())})
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
        store, settings, now = deps()
        _visible(name)
        seconds = min(json_data["seconds"], settings.max_keep_alive_seconds)
        return presenters.workspace(store.patch_workspace(name, activity.keep_alive_patch(now(), seconds)))

    @bp.delete("/<name>")
    @bp.auth_required(auth)
    @bp.output({}, status_code=204)
    @bp.doc(responses=[204, 401, 404])
    def delete_workspace(name: str) -> tuple[str, int]:
        """Delete a Workspace (its home volume too, unless it asked to retain it)."""
        store, _, _ = deps()
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
        store, _, _ = deps()
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
        store, _, _ = deps()
        _visible(name)
        return {"items": [presenters.event(e) for e in store.events(name)]}

    return bp
