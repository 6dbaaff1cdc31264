"""Checking a Workspace's parameter values against its template's typed parameter list.

The CRD cannot type the values (their types live in another object), so this is where a
wrong value is caught; it is reported in status, never raised.
"""

import re
from dataclasses import dataclass
from typing import Any

from common.quantity import parse_quantity


@dataclass(frozen=True)
class Resolved:
    """Every parameter of the template with its effective value (defaults filled in), and what
    is wrong, by parameter name."""

    values: dict[str, Any]
    problems: dict[str, str]

    @property
    def errors(self) -> list[str]:
        return list(self.problems.values())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    if not _is_int(value):
        return f"parameter {name!r} must be an integer, got {value!r}"
    for bound, word, bad in (("min", "at least", value.__lt__), ("max", "at most", value.__gt__)):
        limit = spec.get(bound)
        if limit is None:
            continue
        if not _is_int(limit):
            return f"parameter {name!r} has an unreadable {bound} {limit!r} in the template"
        if bad(limit):
            return f"parameter {name!r} must be {word} {limit}, got {value}"
    return None


def _check_quantity(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    try:
        amount = parse_quantity(value)
    except ValueError as err:
        return f"parameter {name!r}: {err}"
    for bound, word, bad in (("min", "at least", amount.__lt__), ("max", "at most", amount.__gt__)):
        if spec.get(bound) is not None:
            try:
                limit = parse_quantity(spec[bound])
            except ValueError:
                return f"parameter {name!r} has an unreadable {bound} {spec[bound]!r} in the template"
            if bad(limit):
                return f"parameter {name!r} must be {word} {spec[bound]}, got {value}"
    return None


def _check_string(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    if not isinstance(value, str):
        return f"parameter {name!r} must be a string, got {value!r}"
    pattern = spec.get("pattern")
    if pattern:
        try:
            matched = re.fullmatch(pattern, value)
        except re.error:
            return f"parameter {name!r} has an invalid pattern in the template"
        if not matched:
            return f"parameter {name!r} must match {pattern!r}, got {value!r}"
    return None


def _check_bool(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    if not isinstance(value, bool):
        return f"parameter {name!r} must be true or false, got {value!r}"
    return None


def _check_enum(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    choices = spec.get("choices") or []
    if value not in choices:
        return f"parameter {name!r} must be one of {', '.join(map(str, choices))}; got {value!r}"
    return None


_CHECKS = {
    "int": _check_int,
    "quantity": _check_quantity,
    "string": _check_string,
    "bool": _check_bool,
    "enum": _check_enum,
}


def check_value(spec: dict[str, Any], value: Any) -> str | None:
    """Why `value` does not fit the parameter `spec`, or None when it does."""
    name = spec.get("name", "?")
    check = _CHECKS.get(spec.get("type", ""))
    if check is None:
        return f"parameter {name!r} has unknown type {spec.get('type')!r} in the template"
    return check(name, value, spec)


def resolve(parameter_specs: list[dict[str, Any]], given: dict[str, Any]) -> Resolved:
    """Fill defaults and check every value; unknown and missing parameters are errors."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    known = {spec.get("name") for spec in parameter_specs}
    for name in sorted(set(given) - known):
        problems[name] = f"parameter {name!r} is not defined by the template"
    for spec in parameter_specs:
        name = spec.get("name", "?")
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            problems[name] = f"parameter {name!r} is required (the template gives no default)"
            continue
        problem = check_value(spec, value)
        if problem:
            problems[name] = problem
        else:
            values[name] = value
    return Resolved(values=values, problems=problems)


def bound(parameter_specs: list[dict[str, Any]], values: dict[str, Any], target: str) -> Any | None:
    """The value of the parameter bound to `target` (cpu, memory, gitRef), or None."""
    for spec in parameter_specs:
        if spec.get("bindTo", "env") == target and spec.get("name") in values:
            return values[spec["name"]]
    return None


def env_name(parameter: str) -> str:
    """The environment variable a parameter bound to env is exported as."""
    return "CPS1_PARAM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).upper()


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
