"""Kubernetes quantities (`cpu: 2000m`, `memory: 1Gi`) in the form the API server stores them.

The API server parses a quantity and writes it back in its own spelling: `2000m` is stored as
`"2"`, `1024Mi` as `"1Gi"`, `0.5` as `"500m"`, `1000` as `"1k"`, while `1Gi`, `1500m` and `129e6`
stay as written. This module reproduces that spelling (Kubernetes' `resource.ParseQuantity`, then
`Quantity.String`), so that comparing Git with what the server stores never mistakes a respelled
quantity for a change:

- a quantity keeps its format: binary (`Ki` ... `Ei`), decimal SI (`n` ... `E`, none) or decimal
  exponent (`e3`); binary becomes decimal SI when it is under 1024 or not a whole number;
- the canonical spelling is the smallest integer mantissa with an exponent that is a multiple of
  3 (decimal) or a power of 1024 (binary): `1500m`, `1536Mi`, `10e18`;
- an input already in canonical shape is kept exactly as written (`+1`, `01`, `5.` and `1E3` are
  stored as they are), the server's own shortcut;
- values more precise than a nano are rounded up to one;
- `ResourceList` fields (container requests and limits, quotas, limit ranges, capacities) are
  also rounded up to a milli (`1u` is stored as `1m`), and other quantities are not.

Pure: values in, strings out. Anything not certain (not a quantity, out of range) is None, and the
caller then compares as written.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from enum import Enum
from typing import Any

_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
_DECIMAL_SUFFIXES["E"] = 18
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {0: "", **{e: s for s, e in _BINARY_SUFFIXES.items()}}
_DIGITS = "0123456789"
_SUFFIX = re.compile(r"[eEinumkKMGTP]*([+-]?[0-9]+)?")
"""What may follow the number: suffix letters, then an exponent's digits."""
_EXPONENT = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 18
"""Digits an int64 holds with certainty (Go's maxInt64Factors)."""
_NANO = -9
_MILLI = -3
_MAX_INT64 = 2**63 - 1
_PRECISION = 200


class Format(Enum):
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


class Rounding(Enum):
    """Whether the field rounds to a milli (a `ResourceList`), does not, or is not known to."""

    MILLI = "milli"
    NONE = "none"
    UNKNOWN = "unknown"


def stored_quantity(value: Any, *, rounding: Rounding = Rounding.NONE) -> str | None:
    """How the API server stores `value` in a quantity field, or None when not certain.

    `value` is what a manifest holds: a string, or a YAML number (sent as a JSON number)."""
    text = _as_text(value)
    if text is None:
        return None
    with localcontext() as context:
        context.prec = _PRECISION
        if rounding is Rounding.UNKNOWN:
            rounded, exact = _stored(text, milli=True), _stored(text, milli=False)
            return rounded if rounded == exact else None
        return _stored(text, milli=rounding is Rounding.MILLI)


def _as_text(value: Any) -> str | None:
    """The text the server parses: a string as it is, a number as Go's JSON encoder writes it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not (value == 0 or 1e-6 <= abs(value) < 1e21):  # NaN and infinities too
            return None
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return None


def _stored(text: str, *, milli: bool) -> str | None:
    parsed = _parse(text)
    if parsed is None:
        return None
    amount, fmt, keeps_text = parsed
    if milli:
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < _MILLI:
            keeps_text = False
            amount = _round_away_from_zero(amount, _MILLI)
    if keeps_text:
        return text
    return _canonical(amount, fmt)


def _parse(text: str) -> tuple[Decimal, Format, bool] | None:
    """(exact value, format, whether the server keeps `text` as written), like ParseQuantity."""
    if not text:
        return None
    split = _split(text)
    if split is None:
        return None
    positive, num, denom, suffix = split
    interpreted = _interpret(suffix)
    if interpreted is None:
        return None
    exponent, fmt = interpreted
    sign = 1 if positive else -1
    fast = _fast_path(num, denom, exponent, fmt)
    if fast is not None:
        value, scale, keeps_text = fast
        return Decimal(sign * value).scaleb(scale), fmt, keeps_text
    amount = Decimal(f"{num}.{denom or '0'}")  # digits only: always a number
    binary = fmt is Format.BINARY_SI
    amount = amount * (2**exponent) if binary else amount.scaleb(exponent)
    try:
        amount = _round_away_from_zero(amount, _NANO)
    except InvalidOperation:  # more digits than _PRECISION holds: out of range
        return None
    if binary and amount > _MAX_INT64:
        amount = Decimal(_MAX_INT64)
    if binary and amount < 1024:
        fmt = Format.DECIMAL_SI
    return sign * amount, fmt, False


def _fast_path(num: str, denom: str, exponent: int, fmt: Format) -> tuple[int, int, bool] | None:
    """ParseQuantity's int64 path: (integer value, decimal scale, text kept), or None."""
    mantissa = 1
    if fmt is Format.BINARY_SI:
        if denom:  # binary exponents are 10 to 60: only a fraction takes the exact path
            return None
        mantissa = 1 << exponent
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = _MAX_DIGITS - (len(num) + len(denom))
        scale = exponent
    if precision < 0:
        return None
    scale -= len(denom)
    if scale < _NANO:
        return None
    shifted = num + denom
    value = int(shifted)  # within int64 times `mantissa`: what the precision bound is for
    if fmt is Format.BINARY_SI:
        keeps_text = value & 0x07 != 0  # Go also asks for an exponent multiple of 10: all are
    else:
        keeps_text = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return value * mantissa, scale, keeps_text


def _split(text: str) -> tuple[bool, str, str, str] | None:
    """(positive, numerator, denominator, suffix), as Go's parseQuantityString splits them."""
    positive, pos, end = True, 0, len(text)
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    start = pos  # nothing but zeros: the number "0", no fraction, no suffix
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix = text[pos:]
    return (positive, num, denom, suffix) if _SUFFIX.fullmatch(suffix) else None


def _interpret(suffix: str) -> tuple[int, Format] | None:
    """(exponent, format): of 2 for a binary suffix, of 10 for the others."""
    if suffix in _DECIMAL_SUFFIXES:
        return _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        return int(suffix[1:]), Format.DECIMAL_EXPONENT
    return None


def _round_away_from_zero(amount: Decimal, exponent: int) -> Decimal:
    quantum = Decimal(1).scaleb(exponent)
    rounding = ROUND_CEILING if amount >= 0 else ROUND_FLOOR
    return amount.quantize(quantum, rounding=rounding)


def _canonical(amount: Decimal, fmt: Format) -> str | None:
    """Quantity.String() for a value that did not keep its text."""
    if amount == 0:
        return "0"
    if fmt is Format.BINARY_SI:
        if amount != amount.to_integral_value():  # under 1024 is decimal since parsed
            fmt = Format.DECIMAL_SI
        else:
            value = int(amount)
            magnitude, times = abs(value), 0
            while magnitude >= 1024 and magnitude % 1024 == 0:
                magnitude //= 1024
                times += 1
            sign = "-" if value < 0 else ""
            return f"{sign}{magnitude}{_BINARY_BY_EXPONENT[times * 10]}"
    sign_bit, digits, exponent = amount.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    shift = exponent % 3
    mantissa *= 10**shift
    exponent -= shift
    sign = "-" if sign_bit else ""
    if fmt is Format.DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    suffix = _DECIMAL_BY_EXPONENT.get(exponent)
    return None if suffix is None else f"{sign}{mantissa}{suffix}"
