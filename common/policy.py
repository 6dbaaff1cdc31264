"""What a template's admin lets its Workspaces ask for: the largest home volume and the longest
idle timeout. Checked in the hooks (a Failed status) and in the api (a 422) with the same
words, so a user sees one message wherever the Workspace was written. Also what a Workspace
requests of the cluster, which the api adds up against each user's limits."""

from decimal import Decimal
from typing import Any

from common import parameters
from common.quantity import parse_quantity

REQUESTED = ("cpu", "memory", "storage")

DEFAULT_IDLE_SECONDS = 3600
DEFAULT_STORAGE = "10Gi"


def effective_idle_seconds(spec: dict[str, Any], template_spec: dict[str, Any]) -> object:
    idle = spec.get("idleTimeoutSeconds")
    return idle if idle is not None else template_spec.get("idleTimeoutSeconds", DEFAULT_IDLE_SECONDS)


def effective_storage(spec: dict[str, Any], template_spec: dict[str, Any]) -> object:
    return (
        (spec.get("storage") or {}).get("size") or (template_spec.get("storage") or {}).get("size") or DEFAULT_STORAGE
    )


def _storage_problem(size: object, maximum: object) -> str | None:
    try:
        too_big = parse_quantity(size) > parse_quantity(maximum)
    except ValueError as err:
        return f"storage size: {err}"
    return f"storage size {size} is above this template's maximum of {maximum}" if too_big else None


def _idle_problem(idle: object, maximum: object) -> str | None:
    if not isinstance(idle, int) or isinstance(idle, bool):
        return None  # not a number at all: the schema's (or the hooks' model's) finding
    if idle == 0:
        return f"this template stops idle Workspaces after at most {maximum} seconds; 0 (never) is not allowed"
    if isinstance(maximum, int) and idle > maximum:
        return f"idleTimeoutSeconds {idle} is above this template's maximum of {maximum}"
    return None


def template_allows(template_spec: dict[str, Any], user: str, groups: tuple[str, ...] | list[str]) -> bool:
    """Whether `user` (in `groups`) may make Workspaces from the template: everyone when it
    names nobody in `access`, else the users and groups it names."""
    access = template_spec.get("access") or {}
    users, allowed_groups = access.get("users") or [], access.get("groups") or []
    if not users and not allowed_groups:
        return True
    return user in users or any(group in allowed_groups for group in groups)


def template_limit_problems(spec: dict[str, Any], template_spec: dict[str, Any]) -> dict[str, str]:
    """Field -> why the Workspace `spec` asks for more than its template allows."""
    problems: dict[str, str] = {}
    max_size = (template_spec.get("storage") or {}).get("maxSize")
    if max_size is not None:
        problem = _storage_problem(effective_storage(spec, template_spec), max_size)
        if problem:
            problems["storage.size"] = problem
    max_idle = template_spec.get("maxIdleTimeoutSeconds")
    if max_idle is not None:
        problem = _idle_problem(effective_idle_seconds(spec, template_spec), max_idle)
        if problem:
            problems["idleTimeoutSeconds"] = problem
    return problems


def _amount(value: object) -> Decimal:
    try:
        return max(parse_quantity(value), Decimal(0)) if value is not None else Decimal(0)
    except ValueError:
        return Decimal(0)  # unreadable: the hooks fail such a Workspace, it runs nothing


def requests_of(spec: dict[str, Any], template_spec: dict[str, Any]) -> dict[str, Decimal]:
    """What the Workspace `spec` asks of the cluster: its CPU and memory requests (the
    template's, or a parameter bound to them) and its home volume's size, whether or not it
    runs."""
    param_specs = list(template_spec.get("parameters") or [])
    given = spec.get("parameters") or {}
    values = parameters.resolve(param_specs, given if isinstance(given, dict) else {}).values
    requests = dict(((template_spec.get("resources") or {}).get("requests")) or {})
    for resource in ("cpu", "memory"):
        value = parameters.bound(param_specs, values, resource)
        if value is not None:
            requests[resource] = value
    return {
        "cpu": _amount(requests.get("cpu")),
        "memory": _amount(requests.get("memory")),
        "storage": _amount(effective_storage(spec, template_spec)),
    }
