"""Resource quantities in the canonical form the real server stores (`2000m` is stored as `2`).

The suffix family is kept (binary `Ki`..`Ei`, decimal `n`..`E`, or an `e` exponent) and the
amount is written with the largest suffix that keeps it a whole number; a binary amount that is
not a whole number of bytes, or below 1024, is written in decimal.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL.items()}
_BINARY_SUFFIX = [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")]


def canonical_quantity(value: Any) -> str | None:
    """The canonical text of a quantity (a string or a number), or None when it is not one."""
    parsed = _parse(value)
    if parsed is None:
        return None
    amount, family = parsed
    return _canonical(amount, family)


def quantity_amount(value: Any) -> Decimal | None:
    """The amount a quantity stands for (`1k` is 1000, `1Ki` 1024), or None."""
    parsed = _parse(value)
    return parsed[0] if parsed is not None else None


def _parse(value: Any) -> tuple[Decimal, str] | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value) if not isinstance(value, float) else repr(value)
    m = _QUANTITY.match(text)
    if m is None:
        return None
    number, suffix = m.group(1), m.group(2)
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return None
    if suffix in _BINARY:
        amount *= Decimal(2) ** _BINARY[suffix]
        family = "binary"
    elif suffix in _DECIMAL:
        amount *= Decimal(10) ** _DECIMAL[suffix]
        family = "decimal"
    elif suffix[:1] in ("e", "E"):
        try:
            amount *= Decimal(10) ** int(suffix[1:])
        except ValueError:
            return None
        family = "exponent"
    else:
        return None
    return amount, family


def _canonical(amount: Decimal, family: str) -> str:
    nano = Decimal("1e-9")
    amount = (amount / nano).to_integral_value(ROUND_CEILING) * nano
    if family == "binary" and abs(amount) >= 1024 and amount == amount.to_integral_value():
        whole = int(amount)
        for power, name in _BINARY_SUFFIX:
            if whole % (1 << power) == 0:
                return f"{whole >> power}{name}"
        return str(whole)
    exponent = 18
    while (
        exponent > -9
        and (amount / Decimal(10) ** exponent)
        != (amount / Decimal(10) ** exponent).to_integral_value()
    ):
        exponent -= 3
    if amount == 0:
        exponent = 0
    mantissa = int(amount / Decimal(10) ** exponent)
    if family == "exponent":
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
