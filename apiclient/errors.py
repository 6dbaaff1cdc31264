"""What can go wrong talking to the API, as one typed hierarchy the console's pages and the CLI
catch, and the text a person reads for it (each program adds its own hint of what to do)."""

from typing import Any


class ApiError(Exception):
    """The API answered an error: its status, its message and, for bad input, the fields
    (dotted paths such as ``parameters.cpu``) with what is wrong with each."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return describe(self)


class Unreachable(ApiError):
    """No answer at all: the API is down, the address is wrong, or it timed out."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, f"cannot reach the CPS1 API at {url} ({reason})")


class NotSent(ApiError):
    """Refused before any request: the input could not be read (unparseable YAML, a bad
    `--param`), or there are no credentials to send."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class Unauthorized(ApiError):
    """401: the token is wrong, expired or revoked (or the proxy sent no identity)."""


LOCATIONS = ("json", "query", "path", "headers", "form")


def flatten_detail(detail: Any) -> dict[str, str]:
    """The API's ``detail`` as ``{field: message}``.

    Two shapes arrive: ``{"fields": {"parameters.cpu": "..."}}`` from the API's own checks and
    APIFlask's nested ``{"json": {"storage": {"size": ["..."]}}}`` from schema validation; the
    location key (json, query) says nothing to a person, so it is dropped.
    """
    if not isinstance(detail, dict):
        return {}
    if isinstance(detail.get("fields"), dict):
        return {str(k): _text(v) for k, v in detail["fields"].items()}
    out: dict[str, str] = {}
    for location in LOCATIONS:
        if location in detail:
            out.update(_flatten(detail[location], ""))
    return out


def _flatten(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        return {path: _text(value)}
    out: dict[str, str] = {}
    for key, inner in value.items():
        out.update(_flatten(inner, f"{path}.{key}" if path else str(key)))
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return str(value)


def describe(err: ApiError, *, unreachable: str = "", unauthorized: str = "") -> str:
    """One line a person can act on, with the caller's hint of what to do when the API cannot
    be reached or refused the credential; the fields follow on their own lines."""
    if isinstance(err, Unreachable):
        head = f"{err.message}." + (f" {unreachable}" if unreachable else "")
    elif isinstance(err, NotSent):
        head = err.message
    elif isinstance(err, Unauthorized):
        head = f"{err.message} (HTTP 401)." + (f" {unauthorized}" if unauthorized else "")
    else:
        head = f"{err.message} (HTTP {err.status})"
    return "\n".join([head, *(f"- {field}: {text}" for field, text in sorted(err.fields.items()))])
