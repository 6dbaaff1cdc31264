"""The console's wording of API errors: what to do, in the console's terms."""

from console import errors


def test_describe_says_what_to_do_when_unreachable_or_refused() -> None:
    down = errors.Unreachable("http://127.0.0.1:9", "ConnectionError")
    assert down.status == 0
    assert errors.describe(down) == (
        "cannot reach the CPS1 API at http://127.0.0.1:9 (ConnectionError). "
        "Check that the API is running and CPS1_CONSOLE_API_URL points at it."
    )
    refused = errors.Unauthorized(401, "authentication required")
    assert errors.describe(refused) == "authentication required (HTTP 401). Sign in again with a valid API token."
