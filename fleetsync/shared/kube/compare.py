"""Equality of a declared value and a live one: two rules, for two questions, side by side.

| question                         | rule             | a false "equal"   | a false "different" |
| -------------------------------- | ---------------- | ----------------- | ------------------- |
| would applying change nothing?   | `same_value`     | a change skipped: | one server dry-run  |
| (`unchanged`: skips the dry-run) | strict           | never allowed     |                     |
| has the live object drifted?     | `same_rendering` | drift not shown   | drift shown after   |
| (`diff`: drift view, diff CLI)   | tolerant         |                   | every sync          |

Both compare a manifest already respelled the server's way (`stored.stored_form`: quantities,
stringData). What is left differs:

- `same_value` takes nothing on trust: 1 is not "1" nor 1.0, True is not 1. The one tolerance is
  a default the server fills into an item of a list it stores whole (a port's `protocol: TCP`),
  given by the caller for built-in kinds only: a custom resource stores its items as written.
- `same_rendering` takes scalars equal as the server may render them back (1, 1.0 and "1");
  booleans stay strict.

Pure: values in, booleans out.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

BUILTIN_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}
"""Fields the API server fills into built-in kinds' list items when a manifest leaves them out:
a keyed list's FieldsV1 key names them, and an atomic list's live items carry them."""

NO_DEFAULTS: Mapping[str, Any] = {}

_NOT_MAPPINGS = frozenset({list, str, int, float, bool, type(None)})


def is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)`, answered at once for the types JSON decodes to: the ABC's
    own check is a Python call, and the comparisons here ask it of every value they walk."""
    kind = type(value)
    if kind is dict:
        return True
    if kind in _NOT_MAPPINGS:
        return False
    return isinstance(value, Mapping)


def same_value(declared: Any, live: Any, *, defaults: Mapping[str, Any] = NO_DEFAULTS) -> bool:
    """Strict equality; a live mapping may also hold `defaults` the declared one leaves out."""
    if is_mapping(declared) and is_mapping(live):
        extra = live.keys() - declared.keys()
        if not declared.keys() <= live.keys() or any(
            k not in defaults or not same_value(defaults[k], live[k]) for k in extra
        ):
            return False
        return all(same_value(v, live[k], defaults=defaults) for k, v in declared.items())
    if isinstance(declared, list) and isinstance(live, list):
        return len(declared) == len(live) and all(
            map(partial(same_value, defaults=defaults), declared, live)
        )
    return type(declared) is type(live) and bool(declared == live)


def same_rendering(a: Any, b: Any) -> bool:
    """Equality that tolerates the server's renderings of scalars (1 vs "1", 1 vs 1.0)."""
    if is_mapping(a) and is_mapping(b):
        return a.keys() == b.keys() and all(same_rendering(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_rendering, a, b))
    return same_scalar_rendering(a, b)


def same_scalar_rendering(a: Any, b: Any) -> bool:
    """Scalars equal as the API server renders them (1 vs "1", 1 vs 1.0); booleans strictly."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float | str) and isinstance(b, int | float | str):
        return a == b or str(a) == str(b)
    return bool(a == b)
