"""The walk over the composed fleet.yaml tree: the shapes every section is made of (mappings,
lists, strings, durations, labels, names, paths) and the reading of a top-level section, each
recording every issue it meets instead of stopping at the first.

The section readers (repositories, clusters, applications, ...) extend `Walker`; `FleetReader`
(document.py) combines them.
"""

from __future__ import annotations

import difflib
import math
import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import yaml

from fleetsync.shared.fleet.durations import (
    DURATION,
    DURATION_FORMAT,
    MAX_DURATION_CHARS,
    MAX_DURATION_SECONDS,
    MAX_DURATION_TEXT,
    format_duration,
)
from fleetsync.shared.fleet.issues import FleetIssue
from fleetsync.shared.fleet.nodes import (
    BOOL_TAG,
    INT_TAG,
    MERGE_TAG,
    NULL_TAG,
    At,
    Loader,
    child_path,
    is_null,
    line_of,
    node_kind,
)
from fleetsync.shared.model.declaration import (
    RepoType,
    RolloutPolicy,
)

T = TypeVar("T")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    hint = suggest(key, allowed) or f"; allowed keys: {', '.join(allowed)}"
    return f"unknown key '{key}'{hint}"


def absolute(text: str, base_dir: Path) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(text)))


def suggest(text: str, allowed: Sequence[str]) -> str:
    """'; did you mean ...?' when one allowed word is close to `text`, else ''."""

    def squash(word: str) -> str:
        return word.replace("_", "").replace("-", "").lower()

    same = {squash(word): word for word in allowed}.get(squash(text))
    close = same or next(iter(difflib.get_close_matches(text, allowed, n=1, cutoff=0.8)), None)
    return f"; did you mean '{close}'?" if close else ""


_SECTION_ENTRIES = {
    "repositories": "repository",
    "clusters": "cluster",
    "applications": "application",
}


def undeclared(kind: str, kinds: str, name: str, declared: Sequence[str]) -> str:
    listed = f"declared {kinds}: {', '.join(declared)}" if declared else f"no {kinds} are declared"
    return f"{kind} '{name}' is not declared; {listed}{suggest(name, declared)}"


class Walker:
    """The walk's state (the issues so far, what is declared where) and the shapes sections
    are made of."""

    def __init__(self, source: str, base_dir: Path, loader: Loader) -> None:
        self.source = source
        self.base_dir = base_dir
        self.loader = loader
        self.errors: list[FleetIssue] = []
        self.warnings: list[FleetIssue] = []
        self.flattened: set[int] = set()
        """Mappings whose merge keys (<<) are already resolved in place: aliases revisit them."""
        self.seen: dict[tuple[str, str], At] = {}
        """Where each declared name (and some of its fields) sits, for later warnings."""
        self.default_rollout: RolloutPolicy | None = None
        self.item = At(yaml.ScalarNode(NULL_TAG, ""), "", 0)
        """The section entry being read (what an issue about the entry as a whole names)."""
        self.repo_types: dict[str, RepoType] = {}
        """The type of each repository read so far (applications are read after them)."""

    def error(self, at: At, message: str) -> None:
        self.errors.append(FleetIssue(self.source, at.line, at.path, message))

    def warn(self, at: At, message: str) -> None:
        self.warnings.append(FleetIssue(self.source, at.line, at.path, message))

    # generic shapes

    def mapping(
        self, at: At, allowed: Sequence[str] | None, required: Sequence[str] = ()
    ) -> dict[str, At] | None:
        """The mapping's entries by key. With a schema (`allowed`), empty values count as absent."""
        node = at.node
        if not isinstance(node, yaml.MappingNode):
            self.error(at, f"must be a mapping, not {node_kind(node)}")
            return None
        first: dict[str, int] = {}
        for key_node, _ in node.value if id(node) not in self.flattened else ():
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                key, line = key_node.value, line_of(key_node)
                if key in first:
                    dup = At(key_node, child_path(at.path, key), line)
                    self.error(dup, f"duplicate key (first at line {first[key]})")
                first.setdefault(key, line)
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.error(at, f"cannot merge: {exc.problem}")
            return None
        self.flattened.add(id(node))
        entries: dict[str, At] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = At(key_node, at.path, line_of(key_node))
                self.error(where, f"keys must be strings, not {node_kind(key_node)}")
                continue
            entry = At(value_node, child_path(at.path, key_node.value), line_of(key_node))
            if allowed is not None and key_node.value not in allowed:
                self.error(entry, _unknown_key(key_node.value, allowed))
                continue
            entries[key_node.value] = entry
        for key in required:
            if key not in entries:
                self.error(at, f"missing required key '{key}'")
            elif is_null(entries[key].node):
                self.error(entries[key], "needs a value")
        if allowed is None:
            return entries
        return {key: entry for key, entry in entries.items() if not is_null(entry.node)}

    def sequence(self, at: At) -> list[At]:
        if not isinstance(at.node, yaml.SequenceNode):
            self.error(at, f"must be a list, not {node_kind(at.node)}")
            return []
        return [At(n, f"{at.path}[{i}]", line_of(n)) for i, n in enumerate(at.node.value)]

    def string(self, at: At, *, required: bool = True) -> str | None:
        """A scalar's text as written (so `ref: 1.10` stays '1.10'); never echoed on error."""
        node = at.node
        if not isinstance(node, yaml.ScalarNode) or is_null(node):
            self.error(at, f"must be a string, not {node_kind(node)}")
            return None
        text = str(node.value)
        if required and not text.strip():
            self.error(at, "must not be empty")
            return None
        return text

    def boolean(self, at: At) -> bool | None:
        if isinstance(at.node, yaml.ScalarNode) and at.node.tag == BOOL_TAG:
            return bool(self.loader.construct_object(at.node))
        self.error(at, f"must be true or false, not {node_kind(at.node)}")
        return None

    def duration(self, at: At, *, minimum: float = 1) -> float | None:
        """A duration of at least `minimum` seconds (one, unless given)."""
        node = at.node
        text = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        match = DURATION.fullmatch(text)
        if len(text) > MAX_DURATION_CHARS:
            self.error(at, f"'{text[:20]}...' is not a duration; at most {MAX_DURATION_TEXT}")
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG:
            whole = int(self.loader.construct_object(node))
        elif text.isdigit():
            whole = int(text)
        elif text and match:
            h, m, s = (int(part or 0) for part in match.groups())
            whole = h * 3600 + m * 60 + s
        else:
            shown = f"'{text}'" if text else node_kind(node)
            self.error(at, f"{shown} is not a duration; {DURATION_FORMAT}")
            return None
        if whole < minimum:
            self.error(at, f"must be at least {format_duration(minimum)}")
            return None
        if whole > MAX_DURATION_SECONDS:
            self.error(at, f"'{text}' is longer than {MAX_DURATION_TEXT}; write a shorter one")
            return None
        return float(whole)

    def url_parts(self, at: At, text: str) -> SplitResult | None:
        """`text` split as a URL, its port checked too; None (and the issue) if it is not one."""
        try:
            parts = urlsplit(text)
            _ = parts.port
        except ValueError:
            self.error(at, "is not a valid URL")
            return None
        return parts

    def choice(self, at: At, allowed: Sequence[str]) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if text not in allowed:
            self.error(at, f"'{text}' is not one of {', '.join(allowed)}{suggest(text, allowed)}")
            return None
        return text

    def labels(self, at: At) -> dict[str, str]:
        entries = self.mapping(at, None) or {}
        labels: dict[str, str] = {}
        for key, entry in entries.items():
            if not self.label_key(entry, key):
                continue
            value = self.label_value(entry)
            if value is not None:
                labels[key] = value
        return labels

    def label_value(self, at: At) -> str | None:
        value = self.string(at, required=False)
        if value is not None and not (
            value == "" or (len(value) <= 63 and _LABEL_NAME.fullmatch(value))
        ):
            self.error(
                at,
                f"'{value}' is not a valid label value: at most 63 letters, digits, '-', '_' or "
                "'.', starting and ending with a letter or digit",
            )
            return None
        return value

    def plain(self, at: At, ancestors: frozenset[int] = frozenset()) -> Any:
        """Free-form data (Helm values) as JSON-compatible values."""
        node = at.node
        if id(node) in ancestors:
            self.error(at, "refers to itself (a recursive alias)")
            return None
        inside = ancestors | {id(node)}
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(at, None) or {}
            return {key: self.plain(entry, inside) for key, entry in entries.items()}
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, inside) for item in self.sequence(at)]
        value = self.loader.construct_object(node)
        if isinstance(value, float) and not math.isfinite(value):
            self.error(at, "must be a finite number (values travel as JSON)")
        elif not isinstance(value, str | int | float | bool | None):
            self.error(at, f"must be a string, number, boolean or null, not {type(value).__name__}")
        return value

    def label_key(self, at: At, key: str) -> bool:
        prefix, _, name = key.rpartition("/")
        valid_prefix = not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix))
        if valid_prefix and len(name) <= 63 and _LABEL_NAME.fullmatch(name):
            return True
        self.error(
            at,
            f"'{key}' is not a valid label key: an optional DNS subdomain and '/', then at most 63 "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        )
        return False

    # sections

    def section(
        self,
        top: Mapping[str, At],
        key: str,
        schema: tuple[Sequence[str], Sequence[str]],
        read: Callable[[str | None, dict[str, At]], T | None],
    ) -> list[T]:
        """The valid entries of a top-level list; names are DNS labels, unique in the section."""
        values: list[T] = []
        for item in self.sequence(top[key]) if key in top else []:
            before = len(self.errors)
            fields = self.mapping(item, *schema)
            if fields is None:
                continue
            name = self.declare(key, item, fields["name"]) if "name" in fields else None
            self.item = item
            value = read(name, fields)
            if value is not None and len(self.errors) == before:
                values.append(value)
        return values

    def declare(self, section: str, item: At, at: At) -> str | None:
        """Record a declared name (even an invalid one, so references to it do not also fail)."""
        name = self.string(at)
        if name is None:
            return None
        if (section, name) in self.seen:
            first = self.seen[(section, name)].line
            self.error(at, f"'{name}' is already declared in {section} at line {first}")
            return None
        self.seen[(section, name)] = item
        return self.dns_name(at, name, what="name")

    def declared(self, section: str) -> list[str]:
        return sorted(name for kind, name in self.seen if kind == section)

    def declared_in(self, section: str, at: At, name: str) -> bool:
        """Whether `name` is declared in `section` (repositories, clusters, applications); if
        not, the issue at `at` lists what is declared, with the closest name."""
        if (section, name) in self.seen:
            return True
        kind = _SECTION_ENTRIES[section]
        self.error(at, undeclared(kind, section, name, self.declared(section)))
        return False

    def dns_name(self, at: At, text: str, *, what: str, limit: int = 63) -> str | None:
        if len(text) <= limit and _DNS_LABEL.fullmatch(text):
            return text
        self.error(
            at,
            f"'{text}' is not a valid {what}: lowercase letters, digits and '-', starting and "
            f"ending with a letter or digit, at most {limit} characters",
        )
        return None

    def app_path(self, at: At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if text.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", text):
            self.error(at, "must be relative to the repository root, not absolute")
        elif ".." in re.split(r"[\\/]", text):
            self.error(at, "must not contain '..': name a directory inside the repository")
        elif posixpath.normpath(text) != text:
            self.error(at, f"is not normalised; write '{posixpath.normpath(text)}'")
        else:
            return text
        return None
