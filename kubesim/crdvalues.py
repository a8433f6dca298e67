"""A custom resource's values checked against its CRD's OpenAPI validation keywords, with the
real server's causes: `required`, `enum`, `minimum`/`maximum` (exclusive too), `multipleOf`,
`minLength`/`maxLength`, `pattern`, `minItems`/`maxItems` and `minProperties`/`maxProperties`.

Runs on the stored form (pruned and defaulted, see `crdschema`), after the types were found
right. CEL rules (`x-kubernetes-validations`) and `format`s are not checked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kubesim.errors import Cause

_MAX_DEPTH = 32


def go_float(value: float) -> str:
    """Go's `%v` of a float64: its shortest digits, in exponent form below 1e-4 or from 1e6."""
    number = float(value)
    if number == 0 or not math.isfinite(number):
        return "0" if number == 0 else str(number)
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)
    exp = point - 1
    lead = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{lead}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{lead}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{lead}{text}{'0' * (point - len(text))}"
    return f"{lead}{text[:point]}.{text[point:]}"


def bound(value: float) -> str:
    """A schema's bound as the validator prints it (integral: without a fraction)."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return go_float(number)


def go_number(value: Any) -> str:
    """Go's `%v` of a JSON number as unstructured content holds it (int64 or float64)."""
    return str(value) if isinstance(value, int) else go_float(value)


def _rendered(value: Any) -> str:
    """A bad value as a field error prints it (`%q` for strings, `%v` for numbers)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return go_number(value)
    return json.dumps(value)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_rendered(value)}: {detail}", path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def check(self, value: Any, node: Any, path: str, depth: int) -> None:
        if value is None or depth > _MAX_DEPTH or not isinstance(node, Mapping):
            return
        self._enum(value, node, path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, node, path)
        elif isinstance(value, str):
            self._string(value, node, path)
        elif isinstance(value, list):
            self._array(value, node, path, depth)
        elif isinstance(value, Mapping):
            self._object(value, node, path, depth)

    def _enum(self, value: Any, node: Mapping[str, Any], path: str) -> None:
        allowed = node.get("enum")
        if not isinstance(allowed, list) or value in allowed:
            return
        supported = ", ".join(
            json.dumps(a if isinstance(a, str) else json.dumps(a, separators=(",", ":")))
            for a in allowed
        )
        self.causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_rendered(value)}: supported values: {supported}",
                path,
            )
        )

    def _number(self, value: float, node: Mapping[str, Any], path: str) -> None:
        where = f"{path} in body"
        low, high = node.get("minimum"), node.get("maximum")
        if isinstance(low, int | float):
            if node.get("exclusiveMinimum") and value <= low:
                self.causes.append(
                    _invalid(path, value, f"{where} should be greater than {bound(low)}")
                )
            elif value < low:
                self.causes.append(
                    _invalid(
                        path, value, f"{where} should be greater than or equal to {bound(low)}"
                    )
                )
        if isinstance(high, int | float):
            if node.get("exclusiveMaximum") and value >= high:
                self.causes.append(
                    _invalid(path, value, f"{where} should be less than {bound(high)}")
                )
            elif value > high:
                self.causes.append(
                    _invalid(path, value, f"{where} should be less than or equal to {bound(high)}")
                )
        factor = node.get("multipleOf")
        if (
            isinstance(factor, int | float)
            and factor > 0
            and not math.isclose(value / factor, round(value / factor))
        ):
            self.causes.append(
                _invalid(path, value, f"{where} should be a multiple of {bound(factor)}")
            )

    def _string(self, value: str, node: Mapping[str, Any], path: str) -> None:
        """maxLength, minLength, pattern: the first that fails is the one reported."""
        longest, shortest = node.get("maxLength"), node.get("minLength")
        if isinstance(longest, int) and len(value) > longest:
            self.causes.append(
                Cause("FieldValueTooLong", f"Too long: may not be longer than {longest}", path)
            )
            return
        if isinstance(shortest, int) and len(value) < shortest:
            self.causes.append(
                _invalid(path, value, f"{path} in body should be at least {shortest} chars long")
            )
            return
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True  # a pattern Python cannot read: not judged
            if not matched:
                self.causes.append(
                    _invalid(path, value, f"{path} in body should match '{pattern}'")
                )

    def _array(self, value: list[Any], node: Mapping[str, Any], path: str, depth: int) -> None:
        most, least = node.get("maxItems"), node.get("minItems")
        if isinstance(most, int) and len(value) > most:
            self.causes.append(
                Cause(
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {most} items",
                    path,
                )
            )
        if isinstance(least, int) and len(value) < least:
            self.causes.append(
                _invalid(path, len(value), f"{path} in body should have at least {least} items")
            )
        items = node.get("items")
        for i, item in enumerate(value):
            self.check(item, items, f"{path}[{i}]", depth + 1)

    def _object(
        self, value: Mapping[str, Any], node: Mapping[str, Any], path: str, depth: int
    ) -> None:
        """Too many or too few properties is the object's one error (its values unchecked)."""
        most, least = node.get("maxProperties"), node.get("minProperties")
        if isinstance(most, int) and len(value) > most:
            self.causes.append(
                Cause(
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {most} items",
                    path,
                )
            )
            return
        if isinstance(least, int) and len(value) < least:
            self.causes.append(
                _invalid(
                    path, len(value), f"{path} in body should have at least {least} properties"
                )
            )
            return
        for key in node.get("required") or ():
            if key not in value:
                self.causes.append(
                    Cause("FieldValueRequired", "Required value", _join(path, str(key)))
                )
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        for key, item in value.items():
            child = props.get(key, extra if isinstance(extra, Mapping) else None)
            self.check(item, child, _join(path, key), depth + 1)


def value_causes(schema: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> list[Cause]:
    """The server's causes for the values of `obj` its schema refuses, sorted by field (the
    server's order across properties is Go's map order, which varies from one request to the
    next)."""
    if schema is None:
        return []
    checker = _Checker()
    props = schema.get("properties") or {}
    for key, value in obj.items():
        if key not in ("apiVersion", "kind", "metadata"):
            checker.check(value, props.get(key), key, 1)
    for key in schema.get("required") or ():
        if key not in obj:
            checker.causes.append(Cause("FieldValueRequired", "Required value", str(key)))
    return sorted(checker.causes, key=lambda c: c.field)
