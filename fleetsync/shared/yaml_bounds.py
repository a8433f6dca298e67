"""The bounds every YAML text fleetsync reads (fleet.yaml, manifests, values, kustomizations) is
held to before anything is built from it, checked on the event stream alone: how deep mappings
and sequences nest (a composer would overflow its stack on deep input) and how many nodes the
aliases would expand to, all aliases of a document together, counted without expanding
anything (a billion-laughs document fails at once, in constant memory).

The bounds are counted one event at a time (`YamlBounds`): over a whole text before it is
composed (`yaml_breach`), or as a composer takes each event (`BoundedComposer`: fleet.yaml is
parsed once, its composition stopped at the first breach).

`strict` adds what kubectl refuses: a mapping key written twice, and an alias inside the node
it names (a recursive structure). fleet.yaml's reader reports those itself, with a key path.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from yaml.composer import Composer


@dataclass(frozen=True, slots=True)
class YamlBreach:
    """The first bound a text breaks: where (1-based line, 0 if unknown) and what."""

    line: int
    problem: str


def too_deep(max_nesting: int) -> str:
    return f"nested deeper than {max_nesting} levels"


def too_many_aliases(max_alias_expansion: int) -> str:
    return (
        f"YAML aliases expand to more than {max_alias_expansion:,} nodes (a YAML bomb?); "
        "write the values out instead of aliasing them"
    )


@dataclass(slots=True)
class _Frame:
    """A collection being read."""

    anchor: str | None
    mapping: bool
    size: int = 1
    key_next: bool = True
    keys: set[str] | None = None


class YamlBounds:
    """The bounds counted one event at a time, in the order a parser yields them (`see`)."""

    def __init__(self, *, max_nesting: int, max_alias_expansion: int, strict: bool) -> None:
        self._max_nesting = max_nesting
        self._max_alias_expansion = max_alias_expansion
        self._strict = strict
        self._stack: list[_Frame] = []
        self._sizes: dict[str, int] = {}
        self._expansion = 0

    def see(self, event: yaml.Event) -> YamlBreach | None:
        """The bound `event` breaks, or None."""
        stack = self._stack
        if isinstance(event, yaml.ScalarEvent):  # the commonest first
            size = 1
            if event.anchor is not None:
                self._sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= self._max_nesting:
                return YamlBreach(_line(event), too_deep(self._max_nesting))
            mapping = self._strict and isinstance(event, yaml.MappingStartEvent)
            stack.append(_Frame(event.anchor, mapping, keys=set() if mapping else None))
            return None
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = stack.pop()
            size = frame.size
            if frame.anchor is not None:
                self._sizes[frame.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if self._strict and any(frame.anchor == event.anchor for frame in stack):
                return YamlBreach(_line(event), f"alias *{event.anchor} refers to itself")
            size = self._sizes.get(str(event.anchor), 1)
            self._expansion += size
            if self._expansion > self._max_alias_expansion:
                return YamlBreach(_line(event), too_many_aliases(self._max_alias_expansion))
        elif isinstance(event, yaml.DocumentStartEvent):
            self._sizes.clear()
            self._expansion = 0
            return None
        else:
            return None
        if stack:
            duplicate = _add(stack[-1], event, size)
            if duplicate is not None:
                return YamlBreach(_line(event), f"duplicate key {duplicate!r}")
        return None


def _line(event: yaml.Event) -> int:
    """The 1-based line `event` starts on, 0 if unknown."""
    return event.start_mark.line + 1 if event.start_mark else 0


def yaml_breach(
    text: str,
    *,
    loader: type[yaml.SafeLoader | yaml.CSafeLoader],
    max_nesting: int,
    max_alias_expansion: int,
    strict: bool,
) -> YamlBreach | None:
    """The first bound `text` breaks (read with `loader`'s parser), or None.

    A syntax error met on the way is raised as the `yaml.YAMLError` it is, except libyaml's own
    nesting bound (its scanner looks ahead through flow collections and stops at a bound that
    lies beyond `max_nesting`), which is reported as ours."""
    bounds = YamlBounds(
        max_nesting=max_nesting, max_alias_expansion=max_alias_expansion, strict=strict
    )
    try:
        for event in yaml.parse(text, Loader=loader):
            breach = bounds.see(event)
            if breach is not None:
                return breach
    except yaml.MarkedYAMLError as exc:
        breach = libyaml_nesting(exc, max_nesting)
        if breach is not None:
            return breach
        raise
    return None


def libyaml_nesting(exc: yaml.MarkedYAMLError, max_nesting: int) -> YamlBreach | None:
    """libyaml's own nesting bound, met before ours, reported as ours; None for another error."""
    if "maximum nesting depth" not in str(exc.problem):
        return None
    line = exc.problem_mark.line + 1 if exc.problem_mark else 0
    return YamlBreach(line, too_deep(max_nesting))


class BoundsBreached(Exception):
    """Raised by `BoundedComposer` at the first event that breaks a bound."""

    def __init__(self, breach: YamlBreach) -> None:
        super().__init__(breach.problem)
        self.breach = breach


class BoundedComposer(Composer):
    """A composer that holds every event it takes to `yaml_bounds` before building anything
    from it: the text is parsed once, and composing stops at the first breach (raising
    `BoundsBreached`), before a collection nested too deep is entered or an alias counted past
    the bound. Put it first among a loader's bases, with a Python or a C (libyaml) parser."""

    yaml_bounds: YamlBounds

    def get_event(self) -> yaml.Event:
        event: yaml.Event = super().get_event()  # type: ignore[misc]
        breach = self.yaml_bounds.see(event)
        if breach is not None:
            raise BoundsBreached(breach)
        return event


def _add(parent: _Frame, event: yaml.Event, size: int) -> str | None:
    """Count `event`'s node into `parent`; the key if it is one `parent` already holds."""
    parent.size += size
    if not parent.mapping:
        return None
    key = None
    if parent.key_next and isinstance(event, yaml.ScalarEvent) and parent.keys is not None:
        if event.value in parent.keys and event.value != "<<":
            key = str(event.value)
        parent.keys.add(event.value)
    parent.key_next = not parent.key_next
    return key
