"""The API's error answers, as fields and as words."""

from apiclient import errors


def test_the_apis_own_field_details() -> None:
    detail = {"fields": {"parameters.cpu": "parameter 'cpu' must be at most 4, got 8"}}
    assert errors.flatten_detail(detail) == {"parameters.cpu": "parameter 'cpu' must be at most 4, got 8"}


def test_schema_validation_details_are_flattened_without_their_location() -> None:
    detail = {
        "json": {
            "name": ["Missing data for required field."],
            "storage": {"size": ["a storage size such as 10Gi", "too long"]},
        },
        "query": {"phase": ["Must be one of: Running."]},
    }
    assert errors.flatten_detail(detail) == {
        "name": "Missing data for required field.",
        "storage.size": "a storage size such as 10Gi; too long",
        "phase": "Must be one of: Running.",
    }


def test_no_details() -> None:
    assert errors.flatten_detail({}) == {} and errors.flatten_detail(None) == {} and errors.flatten_detail("x") == {}


def test_describe() -> None:
    err = errors.ApiError(422, "invalid parameters", {"parameters.memory": "too big", "name": "bad"})
    assert errors.describe(err) == "invalid parameters (HTTP 422)\n- name: bad\n- parameters.memory: too big"
    assert str(err) == errors.describe(err)
    assert errors.describe(errors.ApiError(404, "workspace 'x' not found")) == "workspace 'x' not found (HTTP 404)"


def test_describe_an_input_never_sent() -> None:
    message = "not valid YAML at line 1, column 7: x"
    assert errors.describe(errors.NotSent(message)) == message
