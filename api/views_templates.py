"""/api/v1/templates: everyone lists and reads them (with their parameter form); admins
create, replace, delete, and validate a draft against the real CRD without saving it."""

from apiflask import APIBlueprint, abort

from api import presenters, schemas
from api.auth import admin_required, auth, current_user
from api.context import context
from common import crd, names, policy


def _template(name: str) -> dict | None:
    """The template of that name; None also for a name no template could have."""
    store = context().store
    return store.template(name) if names.DNS_LABEL.match(name) and len(name) <= names.MAX_LABEL else None


def usable(template: dict) -> bool:
    """Whether the caller may make Workspaces from `template` (admins: from every one)."""
    user = current_user()
    return user.admin or policy.template_allows(template.get("spec") or {}, user.name, user.groups)


def _body(name: str, spec: dict, resource_version: str | None = None) -> dict:
    meta: dict = {"name": name}
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": crd.API_VERSION, "kind": crd.TEMPLATE_KIND, "metadata": meta, "spec": spec}


bp = APIBlueprint("templates", __name__, url_prefix="/api/v1/templates", tag="Templates")


def usage() -> dict[str, int]:
    store = context().store
    counts: dict[str, int] = {}
    for ws in store.workspaces():
        name = (ws.get("spec") or {}).get("template", "")
        counts[name] = counts.get(name, 0) + 1
    return counts


@bp.get("")
@bp.auth_required(auth)
@bp.output(schemas.TemplateList)
def list_templates() -> dict:
    """Every template the caller may use; admins see all, and how many Workspaces use each."""
    store = context().store
    counts = usage() if current_user().admin else None
    items = [
        presenters.template(t, counts.get(t["metadata"]["name"], 0) if counts is not None else None)
        for t in store.templates()
        if usable(t)
    ]
    return {"items": sorted(items, key=lambda t: t["name"])}


@bp.get("/<name>")
@bp.auth_required(auth)
@bp.output(schemas.Template)
@bp.doc(responses=[200, 401, 404])
def get_template(name: str) -> dict:
    """One template with its typed parameters (the console's create form)."""
    template = _template(name)
    if template is None or not usable(template):
        abort(404, f"template {name!r} not found")
    return presenters.template(template, usage().get(name, 0) if current_user().admin else None)


@bp.post("")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.TemplateIn, location="json")
@bp.output(schemas.Template, status_code=201)
@bp.doc(responses=[201, 401, 403, 409, 422])
def create_template(json_data: dict) -> dict:
    """Create a template (admins)."""
    store = context().store
    return presenters.template(store.save_template(_body(json_data["name"], json_data["spec"]), create=True), 0)


@bp.post("/validate")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.TemplateIn, location="json")
@bp.output(schemas.Validation)
@bp.doc(responses=[200, 401, 403, 422])
def validate_template(json_data: dict) -> dict:
    """Check a draft with the API server's schema and rules, saving nothing (admins)."""
    store = context().store
    existing = store.template(json_data["name"])
    version = (existing or {}).get("metadata", {}).get("resourceVersion")
    store.save_template(_body(json_data["name"], json_data["spec"], version), create=existing is None, dry_run=True)
    return {"valid": True}


@bp.put("/<name>")
@bp.auth_required(auth)
@admin_required
@bp.input(schemas.TemplateUpdate, location="json")
@bp.output(schemas.Template)
@bp.doc(responses=[200, 401, 403, 404, 422])
def replace_template(name: str, json_data: dict) -> dict:
    """Replace a template's spec (admins). Running Workspaces pick it up at their next start."""
    store = context().store
    existing = _template(name)
    if existing is None:
        abort(404, f"template {name!r} not found")
    body = _body(name, json_data["spec"], existing["metadata"]["resourceVersion"])
    return presenters.template(store.save_template(body, create=False), usage().get(name, 0))


@bp.delete("/<name>")
@bp.auth_required(auth)
@admin_required
@bp.output({}, status_code=204)
@bp.doc(responses=[204, 401, 403, 404])
def delete_template(name: str) -> tuple[str, int]:
    """Delete a template (admins). Workspaces made from it report Failed and keep their data."""
    store = context().store
    if _template(name) is None:
        abort(404, f"template {name!r} not found")
    store.delete_template(name)
    return "", 204
