from decimal import Decimal

import pytest

from common import names
from common.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (3, Decimal(3)),
        ("1Gi", Decimal(2**30)),
        ("1.5G", Decimal("1.5e9")),
        ("1e3", Decimal(1000)),
        ("100Ki", Decimal(102400)),
    ],
)
def test_quantities(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["lots", "", "1Gb", "--1", True, None, [1]])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)


@pytest.mark.parametrize("text", ["9e999999Ki", "-9e999999", "9223372036854775808", "10Ei"])
def test_out_of_range_quantities_are_value_errors(text: str) -> None:
    """decimal.Overflow and friends would be a 500 in the api and a sync hook failing for ever."""
    with pytest.raises(ValueError, match="out of range"):
        parse_quantity(text)


def test_workspace_names() -> None:
    assert names.workspace_name_error("a" * 60) is None
    assert "at most 60" in (names.workspace_name_error("a" * 61) or "")
    assert names.workspace_name_error("Bad.Name") is not None
    assert names.namespace_for("x") == "ws-x"


def test_settings_from_env_by_field_type() -> None:
    from dataclasses import dataclass

    from common import envconfig

    @dataclass(frozen=True)
    class Example:
        name: str = "x"
        count: int = 1
        ratio: float = 0.5
        enabled: bool = False
        hosts: tuple[str, ...] = ()

    env = {"T_COUNT": "3", "T_RATIO": "2.5", "T_ENABLED": "yes", "T_HOSTS": "a, b,", "OTHER": "1"}
    assert Example(**envconfig.values_from_env(Example, "T_", env)) == Example("x", 3, 2.5, True, ("a", "b"))
    with pytest.raises(ValueError, match="T_COUNT: cannot read 'many'"):
        envconfig.values_from_env(Example, "T_", {"T_COUNT": "many"})
