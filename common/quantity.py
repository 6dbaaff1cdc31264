"""Kubernetes resource quantities ("500m", "2Gi", 3) as exact Decimals.

Hand-written rather than imported from the kubernetes client: the client's parser pulls the
whole client package in, and the layers that use this must stay free of it.
"""

import re
from decimal import Decimal, DecimalException

_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
# Kubernetes keeps quantities in 64-bit integers (of milli-units at worst), so anything larger
# is not a quantity it would accept; refusing it here also keeps later sums and comparisons
# clear of decimal overflow.
LARGEST = Decimal(2) ** 63
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


def parse_quantity(value: object) -> Decimal:
    """The value of a quantity; ValueError with the offending text when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a quantity (examples: 500m, 2, 4Gi)")
    number, suffix = match.groups()
    try:
        amount = Decimal(number) * _SUFFIXES[suffix or ""]
    except DecimalException as err:  # Overflow, Underflow, InvalidOperation, ...
        raise ValueError(f"{value!r} is out of range") from err
    if abs(amount) >= LARGEST:
        raise ValueError(f"{value!r} is out of range")
    return amount


def format_like(amount: Decimal, example: object) -> str:
    """`amount` in the unit `example` is written in (cores for "4", Gi for "8Gi"), so a sum
    reads next to the limit it is compared with."""
    match = _QUANTITY.match(str(example).strip())
    suffix = (match.group(2) if match else None) or ""
    value = (amount / _SUFFIXES[suffix]).quantize(Decimal("0.01")).normalize()
    return f"{value:f}{suffix}"
