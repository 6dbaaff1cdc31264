"""Editing a WorkspaceTemplate in the admin pages, as a form or as YAML.

The form covers what admins change most (name, description, image, resources, storage, idle
timeout) and keeps every other field of the spec as it was (ports, env, git, parameters), so
switching between the form and YAML loses nothing. YAML accepts a whole manifest, as kept in a
GitOps repository, or a bare spec. Pure; the API validates the result before it is saved.
"""

from dataclasses import dataclass
from typing import Any

import yaml

from common import crd

# (form key, path in the spec, label, help)
FORM_FIELDS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("displayName", ("displayName",), "Display name", "What developers see when they pick a template."),
    ("description", ("description",), "Description", ""),
    ("image", ("image",), "Image", "The container image every workspace of this template runs."),
    ("requestsCpu", ("resources", "requests", "cpu"), "CPU request", "Reserved, e.g. 500m."),
    ("requestsMemory", ("resources", "requests", "memory"), "Memory request", "Reserved, e.g. 1Gi."),
    ("limitsCpu", ("resources", "limits", "cpu"), "CPU limit", "The most a workspace may use."),
    ("limitsMemory", ("resources", "limits", "memory"), "Memory limit", ""),
    ("storageSize", ("storage", "size"), "Home volume size", "e.g. 10Gi; a workspace may grow it, never shrink."),
)
IDLE_KEY = "idleTimeoutSeconds"


@dataclass(frozen=True)
class Draft:
    name: str
    spec: dict


def form_values(spec: dict) -> dict[str, Any]:
    """The form's starting values for an existing spec (empty text where the spec has none)."""
    out: dict[str, Any] = {}
    for key, path, _, _ in FORM_FIELDS:
        node: Any = spec
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = "" if node is None else str(node)
    idle = spec.get(IDLE_KEY)
    out[IDLE_KEY] = int(idle) if isinstance(idle, int) else None
    return out


def apply_form(spec: dict, values: dict[str, Any]) -> dict:
    """A new spec: `spec` with the form's fields set; an emptied field is removed (the CRD's
    default or no value applies), and so is an object left empty by that."""
    out = _copy(spec)
    for key, path, _, _ in FORM_FIELDS:
        text = str(values.get(key) or "").strip()
        _set(out, path, text or None)
    idle = values.get(IDLE_KEY)
    _set(out, (IDLE_KEY,), int(idle) if idle is not None else None)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _set(spec: dict, path: tuple[str, ...], value: Any) -> None:
    parents = [spec]
    for part in path[:-1]:
        child = parents[-1].get(part)
        if not isinstance(child, dict):
            if value is None:
                return
            child = parents[-1][part] = {}
        parents.append(child)
    if value is None:
        parents[-1].pop(path[-1], None)
        for depth in range(len(path) - 1, 0, -1):
            if not parents[depth]:
                parents[depth - 1].pop(path[depth - 1])
    else:
        parents[-1][path[-1]] = value


def to_yaml(name: str, spec: dict) -> str:
    """The template as a manifest an admin could also commit to a GitOps repository."""
    manifest = {
        "apiVersion": crd.API_VERSION,
        "kind": crd.TEMPLATE_KIND,
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


def from_yaml(text: str, name: str = "") -> Draft:
    """A draft from a WorkspaceTemplate manifest, or from a bare spec when `name` is given.
    ValueError says what is wrong in words; the API judges everything else."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"not valid YAML{where}: {getattr(err, 'problem', None) or err}") from err
    if not isinstance(doc, dict):
        raise ValueError("expected a WorkspaceTemplate manifest (a mapping with metadata and spec)")
    if "spec" not in doc and "kind" not in doc:
        if not name:
            raise ValueError("a bare spec needs the template's name")
        return Draft(name, doc)
    kind = doc.get("kind", crd.TEMPLATE_KIND)
    if kind != crd.TEMPLATE_KIND:
        raise ValueError(f"expected kind {crd.TEMPLATE_KIND}, got {kind!r}")
    if doc.get("apiVersion", crd.API_VERSION) != crd.API_VERSION:
        raise ValueError(f"expected apiVersion {crd.API_VERSION}, got {doc.get('apiVersion')!r}")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise ValueError("the manifest has no spec mapping")
    meta_name = str((doc.get("metadata") or {}).get("name") or "")
    if name and meta_name and meta_name != name:
        raise ValueError(f"metadata.name is {meta_name!r} but you are editing {name!r}; a template cannot be renamed")
    if not (meta_name or name):
        raise ValueError("metadata.name is missing")
    return Draft(meta_name or name, spec)
