"""Reading a settings dataclass from environment variables: `<PREFIX><FIELD>` for each field,
converted by the field's type (str, int, float, bool, tuple of comma-separated strings); unset
variables keep the defaults. One reader for the hooks, the api and the gateway."""

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no")


def convert(variable: str, kind: object, raw: str) -> object:
    """`raw` as `kind`; ValueError naming the variable when it cannot be read."""
    try:
        if kind in (bool, "bool"):
            if raw.lower() not in TRUE + FALSE:
                raise ValueError(raw)
            return raw.lower() in TRUE
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (tuple[str, ...], "tuple[str, ...]"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as err:
        raise ValueError(f"{variable}: cannot read {raw!r} as {kind}") from err
    return raw


def values_from_env(cls: type, prefix: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fields of dataclass `cls` that the environment sets, converted."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        raw = env.get(prefix + field.name.upper())
        if raw is not None:
            values[field.name] = convert(prefix + field.name.upper(), field.type, raw)
    return values
