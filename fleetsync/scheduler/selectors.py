"""Label selectors as people type them (`kubectl get -l`): `env=prod,region!=us`,
`tier in (web,api)`, `tier notin (db)`, `gpu`, `!gpu`, parsed into the fleet model's `Selector`.

A selector that does not parse raises `SelectorError` saying where and what was expected.
"""

from __future__ import annotations

import re

from fleetsync.shared.model.declaration import Selector, SelectorOperator, SelectorRequirement

MAX_SELECTOR_CHARS = 1024

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EQUALS = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EXISTS = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_KEY})$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")


class SelectorError(ValueError):
    """A label selector that does not parse; the message says which part and why."""


def parse_selector(text: str) -> Selector:
    """The selector `text` means; an empty text selects everything."""
    if len(text) > MAX_SELECTOR_CHARS:
        raise SelectorError(f"label selector longer than {MAX_SELECTOR_CHARS} characters")
    labels: dict[str, str] = {}
    expressions: list[SelectorRequirement] = []
    for part in _split(text):
        if m := _SET.match(part):
            values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
            bad = [v for v in values if not _VALUE_ONLY.match(v)]
            if not values or bad:
                raise SelectorError(
                    f"label selector {part!r}: expected 'key {m['op']} (value,...)' with valid "
                    "label values"
                )
            operator = SelectorOperator.IN if m["op"] == "in" else SelectorOperator.NOT_IN
            expressions.append(SelectorRequirement(m["key"], operator, values))
        elif m := _EQUALS.match(part):
            if m["op"] == "!=":
                expressions.append(
                    SelectorRequirement(m["key"], SelectorOperator.NOT_IN, (m["value"],))
                )
            else:
                labels[m["key"]] = m["value"]
        elif m := _EXISTS.match(part):
            operator = SelectorOperator.DOES_NOT_EXIST if m["neg"] else SelectorOperator.EXISTS
            expressions.append(SelectorRequirement(m["key"], operator))
        else:
            raise SelectorError(
                f"label selector {part!r}: expected key=value, key!=value, key in (a,b), "
                "key notin (a,b), key or !key"
            )
    return Selector(match_labels=labels, match_expressions=tuple(expressions))


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    if depth != 0:
        raise SelectorError(f"label selector {text!r}: unbalanced parentheses")
    if any(not p for p in parts) and text.strip():
        raise SelectorError(f"label selector {text!r}: empty requirement between commas")
    return [p for p in parts if p]
