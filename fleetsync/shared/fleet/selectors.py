"""Label selectors (`matchLabels`, `matchExpressions`), as targets, waves and windows write them."""

from __future__ import annotations

from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.walk import Walker
from fleetsync.shared.model.declaration import (
    Selector,
    SelectorOperator,
    SelectorRequirement,
)

_SELECTOR_KEYS = ("matchLabels", "matchExpressions")
_EXPRESSION_KEYS = ("key", "operator", "values")


class SelectorReader(Walker):
    """Reads label selectors."""

    def selector(self, at: At) -> Selector | None:
        f = self.mapping(at, _SELECTOR_KEYS)
        if f is None:
            return None
        labels = self.labels(f["matchLabels"]) if "matchLabels" in f else {}
        items = self.sequence(f["matchExpressions"]) if "matchExpressions" in f else []
        requirements = [self.requirement(item) for item in items]
        return Selector(
            match_labels=labels, match_expressions=tuple(r for r in requirements if r is not None)
        )

    def requirement(self, at: At) -> SelectorRequirement | None:
        f = self.mapping(at, _EXPRESSION_KEYS, ("key", "operator"))
        if f is None:
            return None
        key = self.string(f["key"]) if "key" in f else None
        if key is not None and not self.label_key(f["key"], key):
            key = None
        operators = [operator.value for operator in SelectorOperator]
        choice = self.choice(f["operator"], operators) if "operator" in f else None
        items = self.sequence(f["values"]) if "values" in f else []
        values = tuple(value for value in map(self.label_value, items) if value is not None)
        if choice is None or key is None:
            return None
        operator = SelectorOperator(choice)
        if operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not items:
            self.error(at, f"operator {operator} needs at least one value in 'values'")
        elif operator not in (SelectorOperator.IN, SelectorOperator.NOT_IN) and items:
            self.error(f["values"], f"operator {operator} takes no values")
        return SelectorRequirement(key=key, operator=operator, values=values)
