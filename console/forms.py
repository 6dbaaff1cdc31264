"""The create (and change) form of a Workspace, generated from its template's typed parameters.

A template parameter (see crds/) has a type (string, int, bool, enum, quantity), maybe a default,
bounds, choices, a pattern, a description and `mutable`. This module turns each into a `Field`
the page draws as one widget, and turns what the widgets hold back into the parameter values the
API takes. Values are not checked here beyond what the widget enforces: the API is the one judge,
and its per-field answers are shown under the fields. Pure, so it is tested without Streamlit.
"""

from dataclasses import dataclass
from typing import Any

KINDS = ("string", "int", "bool", "enum", "quantity")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str
    default: Any  # None when the template gives no default: the user must give a value
    minimum: Any
    maximum: Any
    choices: tuple[str, ...]
    help: str
    mutable: bool

    @property
    def required(self) -> bool:
        return self.default is None


def help_text(spec: dict) -> str:
    """The description, then the rules a person needs before typing: bounds, pattern, choices
    of an enum, and whether the value can change later."""
    parts = [str(spec["description"])] if spec.get("description") else []
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and hi is not None:
        parts.append(f"Between {lo} and {hi}.")
    elif lo is not None:
        parts.append(f"At least {lo}.")
    elif hi is not None:
        parts.append(f"At most {hi}.")
    if spec.get("type") == "quantity":
        parts.append("A quantity such as 500m, 2 or 4Gi.")
    if spec.get("pattern"):
        parts.append(f"Must match `{spec['pattern']}`.")
    if "default" in spec:
        parts.append(f"Default: {format_value(spec['default'])}.")
    else:
        parts.append("Required: the template gives no default.")
    if spec.get("mutable", True) is False:
        parts.append("Cannot be changed after the workspace is created.")
    return " ".join(parts)


def fields(specs: list[dict]) -> list[Field]:
    """One field per parameter, in the template's order; a type the console does not know is
    drawn as text, so a newer template still gets a form (the API checks the value)."""
    out = []
    for spec in specs:
        kind = spec.get("type", "string")
        out.append(
            Field(
                name=str(spec["name"]),
                label=str(spec.get("displayName") or spec["name"]),
                kind=kind if kind in KINDS else "string",
                default=spec.get("default"),
                minimum=spec.get("min"),
                maximum=spec.get("max"),
                choices=tuple(str(c) for c in spec.get("choices") or ()),
                help=help_text(spec),
                mutable=spec.get("mutable", True) is not False,
            )
        )
    return out


def initial(field: Field, current: dict[str, Any] | None = None) -> Any:
    """What the widget starts with: the Workspace's value when changing one, else the default,
    in the type the widget wants (text for string and quantity, int, bool, a choice or None)."""
    value = (current or {}).get(field.name, field.default)
    if field.kind == "bool":
        return bool(value)
    if field.kind == "int":
        return int(value) if isinstance(value, int | float | str) and str(value).lstrip("-").isdigit() else None
    if field.kind == "enum":
        return str(value) if value is not None and str(value) in field.choices else None
    return "" if value is None else str(value)


def int_bound(value: Any) -> int | None:
    """An int parameter's bound as the number widget takes it (the CRD allows int or string)."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def to_value(field: Field, raw: Any) -> Any:
    """The parameter value to send for what a widget holds; None means "not given" (a required
    parameter left empty), which the API reports as missing."""
    if field.kind == "bool":
        return bool(raw)
    if field.kind == "int":
        return int(raw) if raw is not None else None
    if field.kind == "enum":
        return raw if raw else None
    text = "" if raw is None else str(raw).strip()
    return None if text == "" and field.required else text


def collect(form_fields: list[Field], raw: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `parameters` map of a create (`current` None) or change request. Every value is
    sent, defaults too: the Workspace keeps what its user saw even if the template's defaults
    change later. When changing, a parameter that cannot change keeps its current value, and is
    left out when the Workspace never set it (sending the default would be a change)."""
    values: dict[str, Any] = {}
    for field in form_fields:
        if current is not None and not field.mutable:
            if field.name in current:
                values[field.name] = current[field.name]
            continue
        value = to_value(field, raw.get(field.name))
        if value is not None:
            values[field.name] = value
    return values


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameter_rows(specs: list[dict], values: dict[str, Any]) -> list[dict[str, str]]:
    """A Workspace's parameters as a table: its value, or the template's default (marked so),
    and whether it can still change. Parameters the template no longer has are listed too."""
    rows = []
    for spec in specs:
        name = spec["name"]
        given = name in values
        value = values[name] if given else spec.get("default")
        rows.append(
            {
                "Parameter": str(spec.get("displayName") or name),
                "Value": format_value(value) + ("" if given else " (default)") if value is not None else "",
                "Changeable": "yes" if spec.get("mutable", True) is not False else "no",
            }
        )
    known = {spec["name"] for spec in specs}
    for name in sorted(set(values) - known):
        rows.append({"Parameter": name, "Value": format_value(values[name]), "Changeable": "not in the template"})
    return rows
