"""The composed YAML tree: the loaders, a node with the key path and line an issue names, and
what a node is (its kind, as an issue words it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml
from yaml.composer import Composer

from fleetsync.shared.fast_yaml import WITH_LIBYAML as WITH_LIBYAML
from fleetsync.shared.fast_yaml import FastSafeLoader
from fleetsync.shared.yaml_bounds import BoundedComposer, YamlBounds

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


_IMPLICIT_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
"""YAML's implicit types but timestamps: they stay strings (the declaration travels as JSON, and
Helm reads them as strings too)."""


class FleetLoader(BoundedComposer, yaml.SafeLoader):
    """Composes the node tree (nodes keep line marks) from one pass of the Python parser held to
    `bounds`, and builds scalar values. Its syntax errors are the ones fleet.yaml's messages
    quote."""

    yaml_implicit_resolvers = _IMPLICIT_RESOLVERS

    def __init__(self, text: str, bounds: YamlBounds) -> None:
        self.yaml_bounds = bounds
        yaml.SafeLoader.__init__(self, text)  # reads the whole text: a control character fails


class FastFleetLoader(BoundedComposer, FastSafeLoader):
    """The same composition from libyaml's parser where PyYAML has it (several times faster;
    the events and their marks are the same); a text it refuses is read again by `FleetLoader`,
    whose message names the problem."""

    yaml_implicit_resolvers = _IMPLICIT_RESOLVERS

    def __init__(self, text: str, bounds: YamlBounds) -> None:
        self.yaml_bounds = bounds
        FastSafeLoader.__init__(self, text)
        Composer.__init__(self)  # libyaml's loader composes in C: the bounded composer's state


Loader = FleetLoader | FastFleetLoader


@dataclass(frozen=True, slots=True)
class At:
    """A node of the YAML tree with the key path and line that an issue about it names."""

    node: yaml.Node
    path: str
    line: int


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
"""A key a path names after a dot; any other is quoted in brackets."""


def child_path(path: str, key: str) -> str:
    step = f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
    return step.lstrip(".") if not path else path + step


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {NULL_TAG: "empty", BOOL_TAG: "a boolean", STR_TAG: "a string"}
    return names.get(node.tag, "a number" if node.tag.endswith(("int", "float")) else "a scalar")
