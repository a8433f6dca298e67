"""The composed YAML tree: the loader, a node with the key path and line an issue names, and
what a node is (its kind, as an issue words it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class FleetLoader(yaml.SafeLoader):
    """SafeLoader used to compose the node tree (nodes keep line marks) and build scalar values.

    Timestamps stay strings: the declaration travels as JSON, and Helm reads them as strings too.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True, slots=True)
class At:
    """A node of the YAML tree with the key path and line that an issue about it names."""

    node: yaml.Node
    path: str
    line: int


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def child_path(path: str, key: str) -> str:
    step = f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else f"[{json.dumps(key)}]"
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
