"""The bounds every YAML text fleetsync reads (fleet.yaml, manifests, values, kustomizations) is
held to before anything is built from it, checked on the event stream alone: how deep mappings
and sequences nest (a composer would overflow its stack on deep input) and how many nodes the
aliases would expand to, all aliases of a document together, counted without expanding
anything (a billion-laughs document fails at once, in constant memory).

`strict` adds what kubectl refuses: a mapping key written twice, and an alias inside the node
it names (a recursive structure). fleet.yaml's reader reports those itself, with a key path.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


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
    stack: list[_Frame] = []
    sizes: dict[str, int] = {}
    expansion = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.DocumentStartEvent):
                sizes.clear()
                expansion = 0
                continue
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= max_nesting:
                    return YamlBreach(line, too_deep(max_nesting))
                mapping = strict and isinstance(event, yaml.MappingStartEvent)
                stack.append(_Frame(event.anchor, mapping, keys=set() if mapping else None))
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                frame = stack.pop()
                size = frame.size
                if frame.anchor is not None:
                    sizes[frame.anchor] = size
            elif isinstance(event, yaml.AliasEvent):
                if strict and any(frame.anchor == event.anchor for frame in stack):
                    return YamlBreach(line, f"alias *{event.anchor} refers to itself")
                size = sizes.get(str(event.anchor), 1)
                expansion += size
                if expansion > max_alias_expansion:
                    return YamlBreach(line, too_many_aliases(max_alias_expansion))
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            else:
                continue
            if stack:
                duplicate = _add(stack[-1], event, size)
                if duplicate is not None:
                    return YamlBreach(line, f"duplicate key {duplicate!r}")
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):
            line = exc.problem_mark.line + 1 if exc.problem_mark else 0
            return YamlBreach(line, too_deep(max_nesting))
        raise
    return None


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
