"""The console's wording of API errors: what to do, said in the console's terms (its settings,
its sign-in page). The errors themselves are apiclient's."""

from apiclient.errors import ApiError, NotSent, Unauthorized, Unreachable
from apiclient.errors import describe as _describe

__all__ = ["ApiError", "NotSent", "Unauthorized", "Unreachable", "describe"]


def describe(err: ApiError) -> str:
    return _describe(
        err,
        unreachable="Check that the API is running and CPS1_CONSOLE_API_URL points at it.",
        unauthorized="Sign in again with a valid API token.",
    )
