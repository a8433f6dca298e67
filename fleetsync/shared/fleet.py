"""The fleet declaration: fleet.yaml in, a validated `Fleet` out, problems named by line and key.

The scheduler loads fleet.yaml at start and again when it changes (`fleet_digest` tells), then
publishes the last good declaration; `fleetsync validate` runs the same checks offline. Parsing
composes the YAML node tree, whose nodes keep their line marks, and walks it against the schema,
collecting every issue instead of stopping at the first. Relative paths (local repositories,
kubeconfigs, SSH keys) are resolved against the fleet file's directory, so a `Fleet` holds absolute
paths. Credentials are references (environment variable names, a key file); no error echoes their
values, and a URL that carries a password is refused.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

import fleetsync.shared.fleet_variants as fleet_variants
from fleetsync.shared.charts.semver import RangeError, parse_range
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.fleet_notifications import KEYS as _NOTIFICATION_KEYS
from fleetsync.shared.fleet_notifications import REQUIRED as _NOTIFICATION_REQUIRED
from fleetsync.shared.fleet_notifications import read_notification
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Credentials,
    DirectoryOptions,
    FailurePolicy,
    Fleet,
    HelmOptions,
    JsonnetOptions,
    JsonnetVar,
    RendererKind,
    ReplacePolicy,
    Repository,
    RepoType,
    RolloutPolicy,
    Selector,
    SelectorOperator,
    SelectorRequirement,
    SyncPolicy,
    Targets,
    ValuesFrom,
    WaveSpec,
    Window,
    WindowKind,
)
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.planning.cron import CronError, parse_cron, zone
from fleetsync.shared.planning.waves import assign_waves, overlaps
from fleetsync.shared.urls import SCP_LIKE as _SCP_LIKE
from fleetsync.shared.urls import display_url as display_url

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FleetIssue:
    """One problem (or warning) in a fleet file: `fleet.yaml:12: clusters[0].name: message`."""

    source: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return ": ".join(part for part in (where, self.key_path, self.message) if part)


class FleetError(PermanentError):
    """A fleet declaration that cannot be used; `issues` holds every problem, in line order."""

    def __init__(self, issues: tuple[FleetIssue, ...]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues

    def __reduce__(self) -> tuple[type[FleetError], tuple[tuple[FleetIssue, ...]]]:
        return type(self), (self.issues,)


class FleetFileError(FleetError):
    """The fleet file itself cannot be read: missing, a directory, or not permitted."""


@dataclass(frozen=True, slots=True)
class FleetReport:
    """The outcome of checking a fleet file: the fleet when there is no error, and warnings."""

    fleet: Fleet | None
    errors: tuple[FleetIssue, ...] = ()
    warnings: tuple[FleetIssue, ...] = ()


def load_fleet(path: Path) -> Fleet:
    """The fleet declared in `path`; raises FleetError naming every problem."""
    report = check_fleet(path)
    if report.fleet is None:
        raise FleetError(report.errors)
    return report.fleet


def parse_fleet(text: str, *, source: str, base_dir: Path) -> Fleet:
    """The fleet declared by `text` (named `source` in issues; relative paths from `base_dir`)."""
    report = _check_text(text, source=source, base_dir=base_dir)
    if report.fleet is None:
        raise FleetError(report.errors)
    return report.fleet


def check_fleet(path: Path) -> FleetReport:
    """Errors and warnings of the fleet file at `path`; FleetFileError if it cannot be read."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FLEET_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"cannot read the fleet file: {reason}"
        raise FleetFileError((FleetIssue(source, None, "", message),)) from exc
    if len(data) > MAX_FLEET_BYTES:
        message = (
            f"the file is larger than {MAX_FLEET_BYTES // (1024 * 1024)} MiB; a fleet "
            "declaration that large is refused"
        )
        return FleetReport(None, (FleetIssue(source, None, "", message),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issue = FleetIssue(source, line, "", "the file is not UTF-8 text")
        return FleetReport(None, (issue,))
    return _check_text(text, source=source, base_dir=Path(os.path.abspath(path)).parent)


def fleet_digest(fleet: Fleet) -> str:
    """Hex sha256 of the fleet's canonical JSON: equal declarations, equal digests."""
    canonical = json.dumps(
        fleet.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def format_duration(seconds: float) -> str:
    """Seconds as fleet.yaml writes them: 90 -> '1m30s', 3600 -> '1h'."""
    rest = round(seconds)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


# --- the schema ------------------------------------------------------------------------------

_TOP_KEYS = ("repositories", "clusters", "applications", "defaults", "windows", "notifications")
_DEFAULTS_KEYS = ("rollout",)
_ROLLOUT_KEYS = ("waves", "maxParallel", "bake", "progressDeadline", "maxFailures", "onFailure")
_WAVE_KEYS = ("name", "clusters", "selector", "percent")
_WINDOW_KEYS: tuple[str, ...] = ("name", "kind", "schedule", "duration", "timezone")
_WINDOW_KEYS += ("applications", "clusters")
_WINDOW_KEYS += ("manualSync", "selfHeal")
_WINDOW_CLUSTER_KEYS = ("selector",)
_REPOSITORY_KEYS = ("name", "type", "url", "ref", "interval", "credentials", "insecure", "caFile")
_CREDENTIAL_KEYS = ("username_env", "password_env", "ssh_key_file", "token_env")
_CLUSTER_KEYS = ("name", "kubeconfig", "context", "labels", "values")
_APPLICATION_KEYS: tuple[str, ...] = ("name", "repository", "path", "namespace", "renderer")
_APPLICATION_KEYS += ("helm", "targets", "sync", "directory", "jsonnet", "dependsOn", "rollout")
_APPLICATION_KEYS += ("chart", "version", "substitute", "overrides")
_DIRECTORY_KEYS = ("recurse", "include", "exclude", "strict")
_JSONNET_KEYS = ("extVars", "tlas", "libs")
_JSONNET_VAR_KEYS = ("name", "value", "code")
_HELM_KEYS = ("release", "values", "valuesFiles", "valuesFrom")
_VALUES_FROM_KEYS = ("repository", "path")
_CHART_NAME = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
_TARGET_KEYS = ("clusters", "selector")
_SELECTOR_KEYS = ("matchLabels", "matchExpressions")
_EXPRESSION_KEYS = ("key", "operator", "values")
_SYNC_FLAGS = {
    "automated": "automated",
    "prune": "prune",
    "selfHeal": "self_heal",
    "forceConflicts": "force_conflicts",
    "allowEmpty": "allow_empty",
    "pruneOnRemoval": "prune_on_removal",
    "createNamespace": "create_namespace",
}
_SYNC_KEYS = (*_SYNC_FLAGS, "driftInterval", "replace", "waveTimeout", "hookTimeout")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat", "xox", "AKIA")
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_FORMAT = "write seconds (90) or hours, minutes, seconds (30s, 5m, 1h30m)"
MAX_DURATION_SECONDS = 7 * 24 * 3600
_MAX_DURATION_TEXT = "7 days (168h, 604800)"
_MAX_DURATION_CHARS = 32
MAX_FLEET_BYTES = 8 * 1024 * 1024
"""The largest fleet.yaml read (a fleet of 10,000 clusters is well under it)."""
MAX_FLEET_NESTING = 100
"""Deepest nesting of mappings and sequences in fleet.yaml (Helm values included)."""
MAX_FLEET_ALIAS_EXPANSION = 100_000
"""Nodes that YAML aliases in fleet.yaml may expand to, all aliases together."""
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHORT_SHA = re.compile(r"(?=.*[0-9])(?=.*[a-fA-F])[0-9a-fA-F]{7,39}")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[/.]|/\.|[/.]$|\.lock$|^@$")
_PASSWORD_IN_USERINFO = re.compile(r"[^/@\s]*:[^/@\s]*@")
_URL_SCHEMES = ("https", "http", "ssh", "git", "file")
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _FleetLoader(yaml.SafeLoader):
    """SafeLoader used to compose the node tree (nodes keep line marks) and build scalar values.

    Timestamps stay strings: the declaration travels as JSON, and Helm reads them as strings too.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True, slots=True)
class _At:
    """A node of the YAML tree with the key path and line that an issue about it names."""

    node: yaml.Node
    path: str
    line: int


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _child(path: str, key: str) -> str:
    step = f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else f"[{json.dumps(key)}]"
    return step.lstrip(".") if not path else path + step


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {_NULL_TAG: "empty", _BOOL_TAG: "a boolean", _STR_TAG: "a string"}
    return names.get(node.tag, "a number" if node.tag.endswith(("int", "float")) else "a scalar")


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    hint = _suggest(key, allowed) or f"; allowed keys: {', '.join(allowed)}"
    return f"unknown key '{key}'{hint}"


def _looks_like_secret(text: str) -> bool:
    if text.startswith(_TOKEN_PREFIXES):
        return True
    classes = (r"[a-z]", r"[A-Z]", r"[0-9]")
    return len(text) >= 24 and all(re.search(c, text) for c in classes)


def _absolute(text: str, base_dir: Path) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(text)))


def _suggest(text: str, allowed: Sequence[str]) -> str:
    """'; did you mean ...?' when one allowed word is close to `text`, else ''."""

    def squash(word: str) -> str:
        return word.replace("_", "").replace("-", "").lower()

    same = {squash(word): word for word in allowed}.get(squash(text))
    close = same or next(iter(difflib.get_close_matches(text, allowed, n=1, cutoff=0.8)), None)
    return f"; did you mean '{close}'?" if close else ""


def _article(kind: RepoType) -> str:
    return "an" if kind is RepoType.OCI else "a"


def _undeclared(kind: str, kinds: str, name: str, declared: Sequence[str]) -> str:
    listed = f"declared {kinds}: {', '.join(declared)}" if declared else f"no {kinds} are declared"
    return f"{kind} '{name}' is not declared; {listed}{_suggest(name, declared)}"


# --- the walk --------------------------------------------------------------------------------


class _Reader:
    """Walks the composed tree, building model values and recording every issue it meets."""

    def __init__(self, source: str, base_dir: Path, loader: _FleetLoader) -> None:
        self.source = source
        self.base_dir = base_dir
        self.loader = loader
        self.errors: list[FleetIssue] = []
        self.warnings: list[FleetIssue] = []
        self.flattened: set[int] = set()
        """Mappings whose merge keys (<<) are already resolved in place: aliases revisit them."""
        self.seen: dict[tuple[str, str], _At] = {}
        """Where each declared name (and some of its fields) sits, for later warnings."""
        self.default_rollout: RolloutPolicy | None = None
        self.item = _At(yaml.ScalarNode(_NULL_TAG, ""), "", 0)
        """The section entry being read (what an issue about the entry as a whole names)."""
        self.repo_types: dict[str, RepoType] = {}
        """The type of each repository read so far (applications are read after them)."""

    def error(self, at: _At, message: str) -> None:
        self.errors.append(FleetIssue(self.source, at.line, at.path, message))

    def warn(self, at: _At, message: str) -> None:
        self.warnings.append(FleetIssue(self.source, at.line, at.path, message))

    # generic shapes

    def mapping(
        self, at: _At, allowed: Sequence[str] | None, required: Sequence[str] = ()
    ) -> dict[str, _At] | None:
        """The mapping's entries by key. With a schema (`allowed`), empty values count as absent."""
        node = at.node
        if not isinstance(node, yaml.MappingNode):
            self.error(at, f"must be a mapping, not {_kind(node)}")
            return None
        first: dict[str, int] = {}
        for key_node, _ in node.value if id(node) not in self.flattened else ():
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key, line = key_node.value, _line(key_node)
                if key in first:
                    dup = _At(key_node, _child(at.path, key), line)
                    self.error(dup, f"duplicate key (first at line {first[key]})")
                first.setdefault(key, line)
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.error(at, f"cannot merge: {exc.problem}")
            return None
        self.flattened.add(id(node))
        entries: dict[str, _At] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = _At(key_node, at.path, _line(key_node))
                self.error(where, f"keys must be strings, not {_kind(key_node)}")
                continue
            entry = _At(value_node, _child(at.path, key_node.value), _line(key_node))
            if allowed is not None and key_node.value not in allowed:
                self.error(entry, _unknown_key(key_node.value, allowed))
                continue
            entries[key_node.value] = entry
        for key in required:
            if key not in entries:
                self.error(at, f"missing required key '{key}'")
            elif _is_null(entries[key].node):
                self.error(entries[key], "needs a value")
        if allowed is None:
            return entries
        return {key: entry for key, entry in entries.items() if not _is_null(entry.node)}

    def sequence(self, at: _At) -> list[_At]:
        if not isinstance(at.node, yaml.SequenceNode):
            self.error(at, f"must be a list, not {_kind(at.node)}")
            return []
        return [_At(n, f"{at.path}[{i}]", _line(n)) for i, n in enumerate(at.node.value)]

    def string(self, at: _At, *, required: bool = True) -> str | None:
        """A scalar's text as written (so `ref: 1.10` stays '1.10'); never echoed on error."""
        node = at.node
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.error(at, f"must be a string, not {_kind(node)}")
            return None
        text = str(node.value)
        if required and not text.strip():
            self.error(at, "must not be empty")
            return None
        return text

    def boolean(self, at: _At) -> bool | None:
        if isinstance(at.node, yaml.ScalarNode) and at.node.tag == _BOOL_TAG:
            return bool(self.loader.construct_object(at.node))
        self.error(at, f"must be true or false, not {_kind(at.node)}")
        return None

    def duration(self, at: _At, *, minimum: float = 1) -> float | None:
        """A duration of at least `minimum` seconds (one, unless given)."""
        node = at.node
        text = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        match = _DURATION.fullmatch(text)
        if len(text) > _MAX_DURATION_CHARS:
            self.error(at, f"'{text[:20]}...' is not a duration; at most {_MAX_DURATION_TEXT}")
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
            whole = int(self.loader.construct_object(node))
        elif text.isdigit():
            whole = int(text)
        elif text and match:
            h, m, s = (int(part or 0) for part in match.groups())
            whole = h * 3600 + m * 60 + s
        else:
            shown = f"'{text}'" if text else _kind(node)
            self.error(at, f"{shown} is not a duration; {_DURATION_FORMAT}")
            return None
        if whole < minimum:
            self.error(at, f"must be at least {format_duration(minimum)}")
            return None
        if whole > MAX_DURATION_SECONDS:
            self.error(at, f"'{text}' is longer than {_MAX_DURATION_TEXT}; write a shorter one")
            return None
        return float(whole)

    def choice(self, at: _At, allowed: Sequence[str]) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if text not in allowed:
            self.error(at, f"'{text}' is not one of {', '.join(allowed)}{_suggest(text, allowed)}")
            return None
        return text

    def labels(self, at: _At) -> dict[str, str]:
        entries = self.mapping(at, None) or {}
        labels: dict[str, str] = {}
        for key, entry in entries.items():
            if not self.label_key(entry, key):
                continue
            value = self.label_value(entry)
            if value is not None:
                labels[key] = value
        return labels

    def label_value(self, at: _At) -> str | None:
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

    def plain(self, at: _At, ancestors: frozenset[int] = frozenset()) -> Any:
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

    def label_key(self, at: _At, key: str) -> bool:
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
        top: Mapping[str, _At],
        key: str,
        schema: tuple[Sequence[str], Sequence[str]],
        read: Callable[[str | None, dict[str, _At]], T | None],
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

    def declare(self, section: str, item: _At, at: _At) -> str | None:
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

    def dns_name(self, at: _At, text: str, *, what: str, limit: int = 63) -> str | None:
        if len(text) <= limit and _DNS_LABEL.fullmatch(text):
            return text
        self.error(
            at,
            f"'{text}' is not a valid {what}: lowercase letters, digits and '-', starting and "
            f"ending with a letter or digit, at most {limit} characters",
        )
        return None

    def repository(self, name: str | None, f: dict[str, _At]) -> Repository | None:
        kind = RepoType.GIT
        if "type" in f:
            choice = self.choice(f["type"], [t.value for t in RepoType])
            kind = RepoType(choice) if choice else RepoType.GIT
        if name is not None:
            self.repo_types[name] = kind
        if kind is RepoType.GIT:
            url = self.url(f["url"]) if "url" in f else None
        else:
            url = self.chart_source_url(f["url"], kind) if "url" in f else None
        options: dict[str, Any] = {"type": kind}
        if "ref" in f:
            if kind is not RepoType.GIT:
                self.error(
                    f["ref"],
                    f"{_article(kind)} {kind} repository has no ref: each application names its "
                    "chart and version",
                )
            options["ref"] = self.ref(f["ref"])
        if "interval" in f:
            options["interval"] = self.duration(f["interval"])
        if "credentials" in f:
            options["credentials"] = self.credentials(f["credentials"], kind)
        if "insecure" in f:
            if kind is not RepoType.OCI:
                self.error(f["insecure"], "applies only to repositories of type oci")
            options["insecure"] = self.boolean(f["insecure"])
        if "caFile" in f:
            if kind is RepoType.GIT:
                self.error(f["caFile"], "applies only to repositories of type helm or oci")
            text = self.string(f["caFile"])
            options["ca_file"] = _absolute(text, self.base_dir) if text else None
            if text and not os.path.isfile(options["ca_file"] or ""):
                self.warn(f["caFile"], f"the CA file {options['ca_file']} does not exist")
        if name is None or url is None:
            return None
        return Repository(name=RepoName(name), url=url, **options)

    def chart_source_url(self, at: _At, kind: RepoType) -> str | None:
        """A chart repository's https/http URL, or an OCI registry's oci://host/path."""
        text = self.string(at)
        if text is None:
            return None
        text = text.strip().rstrip("/")
        try:
            parts = urlsplit(text)
            _ = parts.port
        except ValueError:
            self.error(at, "is not a valid URL")
            return None
        schemes = ("oci",) if kind is RepoType.OCI else ("https", "http")
        if parts.password is not None or parts.username is not None:
            self.error(at, "must not carry credentials; name environment variables in credentials")
        elif parts.scheme.lower() not in schemes:
            example = (
                "oci://registry.example.com/charts"
                if kind is RepoType.OCI
                else ("https://charts.example.com")
            )
            self.error(
                at,
                f"{_article(kind)} {kind} repository's URL starts with "
                f"{' or '.join(s + '://' for s in schemes)}"
                f" (e.g. {example})",
            )
        elif not parts.hostname:
            self.error(at, f"'{display_url(text)}' names no host")
        elif parts.query or parts.fragment:
            self.error(at, "must not have a query or a fragment")
        else:
            return text
        return None

    def url(self, at: _At) -> str | None:
        """A git URL; never echoed with its userinfo, and refused if it carries a password."""
        text = self.string(at)
        if text is None:
            return None
        text = text.strip()
        password = "must not carry a password; name an environment variable in credentials"
        if "://" in text:
            try:
                parts = urlsplit(text)
                _ = parts.port
            except ValueError:
                self.error(at, "is not a valid URL")
                return None
            scheme = parts.scheme.lower()
            if parts.password is not None:
                self.error(at, password)
            elif scheme not in _URL_SCHEMES:
                self.error(
                    at,
                    f"scheme '{scheme}' is not supported; use https, http, ssh, git or file, "
                    "an scp-like user@host:path, or a local path",
                )
            elif scheme != "file" and not parts.hostname:
                self.error(at, f"'{display_url(text)}' names no host")
            elif scheme == "file" and not parts.path:
                self.error(at, f"'{text}' names no path")
            else:
                return text
            return None
        if _PASSWORD_IN_USERINFO.match(text):
            self.error(at, password)
            return None
        if _SCP_LIKE.fullmatch(text):
            return text
        path = _absolute(text, self.base_dir)
        if not os.path.isdir(path):
            self.warn(at, f"local repository {path} does not exist")
        return path

    def ref(self, at: _At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if _FULL_SHA.fullmatch(text):
            return text.lower()
        if _BAD_REF.search(text):
            self.error(at, f"'{text}' is not a valid branch, tag or full commit sha")
            return None
        if _SHORT_SHA.fullmatch(text):
            self.warn(
                at,
                f"'{text}' looks like an abbreviated commit sha, but only a full sha (40 hex "
                "digits) is taken as a commit: this one is looked up as a branch or tag",
            )
        return text

    def credentials(self, at: _At, kind: RepoType = RepoType.GIT) -> Credentials | None:
        f = self.mapping(at, _CREDENTIAL_KEYS)
        if f is None:
            return None
        user, password, key, token = (name in f for name in _CREDENTIAL_KEYS)
        if token:
            if kind is RepoType.GIT:
                self.error(f["token_env"], "applies only to repositories of type helm or oci")
            elif user or password or key:
                self.error(at, "use either username_env and password_env, or token_env, not both")
            name = self.env_name(f["token_env"])
            return Credentials(token_env=name) if name else None
        if key and kind is not RepoType.GIT:
            self.error(f["ssh_key_file"], "applies only to Git repositories")
        elif key and (user or password):
            self.error(at, "use either username_env and password_env, or ssh_key_file, not both")
        elif user != password:
            missing = "password_env" if user else "username_env"
            self.error(at, f"username_env and password_env go together; add '{missing}'")
        elif not key and not user:
            other = "ssh_key_file" if kind is RepoType.GIT else "token_env"
            self.error(at, f"name username_env and password_env, or {other}")
        found = {name: self.env_name(f[name]) for name in _CREDENTIAL_KEYS[:2] if name in f}
        if key:
            text = self.string(f["ssh_key_file"])
            found["ssh_key_file"] = _absolute(text, self.base_dir) if text else None
            if text and not os.path.isfile(found["ssh_key_file"] or ""):
                self.warn(f["ssh_key_file"], "the SSH key file does not exist")
        return Credentials(**found)

    def env_name(self, at: _At) -> str | None:
        """The NAME of an environment variable; the text is never echoed (it may be a secret)."""
        text = self.string(at)
        if text is None:
            return None
        if not _ENV_NAME.fullmatch(text):
            self.error(
                at,
                "must name an environment variable (letters, digits and '_', not starting with "
                "a digit), not hold a value",
            )
            return None
        if _looks_like_secret(text):
            self.error(
                at,
                "must name an environment variable, and this looks like a secret value: put the "
                "secret in an environment variable and write the variable's name here",
            )
            return None
        return text

    def cluster(self, name: str | None, f: dict[str, _At]) -> Cluster | None:
        kubeconfig = self.string(f["kubeconfig"]) if "kubeconfig" in f else None
        if kubeconfig is not None:
            kubeconfig = _absolute(kubeconfig, self.base_dir)
            if not os.path.isfile(kubeconfig):
                self.warn(f["kubeconfig"], f"kubeconfig {kubeconfig} does not exist")
        options: dict[str, Any] = {}
        if "context" in f:
            options["context"] = self.string(f["context"])
        if "labels" in f:
            options["labels"] = self.labels(f["labels"])
        if "values" in f:
            options["values"] = fleet_variants.cluster_values(self, f["values"])
        if name is None or kubeconfig is None:
            return None
        return Cluster(name=ClusterName(name), kubeconfig=kubeconfig, **options)

    def application(self, name: str | None, f: dict[str, _At]) -> Application | None:
        repository = self.string(f["repository"]) if "repository" in f else None
        if repository is not None and ("repositories", repository) not in self.seen:
            declared = self.declared("repositories")
            self.error(
                f["repository"], _undeclared("repository", "repositories", repository, declared)
            )
        kind = self.repo_types.get(repository or "", RepoType.GIT)
        path = self.app_path(f["path"]) if "path" in f else None
        options: dict[str, Any] = {}
        if kind is RepoType.GIT:
            for key in ("chart", "version"):
                if key in f:
                    self.error(
                        f[key],
                        f"applies only to applications on a chart repository or OCI registry; "
                        f"repository '{repository}' is a Git repository (give a path)",
                    )
            if "path" not in f:
                self.error(self.item, "missing required key 'path'")
        else:
            if "path" in f:
                self.error(
                    f["path"],
                    f"an application on {kind} repository '{repository}' names its chart, not a "
                    "path",
                )
                path = None
            if "chart" not in f:
                self.error(
                    self.item,
                    f"an application on {kind} repository '{repository}' needs 'chart' (the "
                    "chart's name) and a 'version' or range",
                )
            else:
                path = self.chart_name(f["chart"])
                options["chart"] = path
            if "version" in f:
                options["version"] = self.version_range(f["version"])
        if "namespace" in f:
            namespace = self.string(f["namespace"])
            if namespace is not None:
                options["namespace"] = self.dns_name(f["namespace"], namespace, what="namespace")
        renderer: RendererKind | None = RendererKind.AUTO
        if "renderer" in f:
            choice = self.choice(f["renderer"], [kind.value for kind in RendererKind])
            renderer = options["renderer"] = RendererKind(choice) if choice else None
        if kind is not RepoType.GIT and renderer not in (RendererKind.HELM, RendererKind.AUTO):
            self.error(
                f["renderer"], f"a chart renders with renderer helm (or auto), not {renderer}"
            )
        if "helm" in f:
            if renderer is not None and renderer not in (RendererKind.HELM, RendererKind.AUTO):
                self.error(f["helm"], f"applies only to renderer helm or auto, not {renderer}")
            options["helm"] = self.helm(f["helm"], path)
            if options["helm"] is not None and name is not None:
                self.seen[("applications.helm", name)] = f["helm"]
                fleet_variants.helm_values_variables(self, f["helm"], options["helm"].values)
        if "substitute" in f:
            options["substitute"] = fleet_variants.substitute_flag(self, f["substitute"])
        if "overrides" in f:
            options["overrides"] = fleet_variants.overrides(
                self, f["overrides"], name, path, git=kind is RepoType.GIT, renderer=renderer
            )
        if "directory" in f:
            renderers = (RendererKind.PLAIN, RendererKind.JSONNET, RendererKind.AUTO)
            if renderer is not None and renderer not in renderers:
                self.error(
                    f["directory"],
                    f"applies only to renderer plain, jsonnet or auto, not {renderer}",
                )
            options["directory"] = self.directory(f["directory"])
        if "jsonnet" in f:
            if renderer is not None and renderer not in (RendererKind.JSONNET, RendererKind.AUTO):
                self.error(
                    f["jsonnet"], f"applies only to renderer jsonnet or auto, not {renderer}"
                )
            options["jsonnet"] = self.jsonnet(f["jsonnet"])
        if "targets" in f:
            options["targets"] = self.targets(f["targets"])
            if name is not None:
                self.seen[("applications.targets", name)] = f["targets"]
        if "sync" in f:
            options["sync"] = self.sync(f["sync"])
        if "dependsOn" in f:
            options["depends_on"] = self.depends_on(f["dependsOn"], name)
        if "rollout" in f:
            policy = self.rollout(f["rollout"])
            options["rollout"] = policy or None
            if name is not None:
                self.seen[("applications.rollout", name)] = f["rollout"]
        elif self.default_rollout is not None:
            options["rollout"] = self.default_rollout
        if name is None or repository is None or path is None:
            return None
        return Application(
            name=AppName(name), repository=RepoName(repository), path=path, **options
        )

    def app_path(self, at: _At) -> str | None:
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

    def helm(self, at: _At, app_path: str | None) -> HelmOptions | None:
        f = self.mapping(at, _HELM_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {}
        if "release" in f:
            release = self.string(f["release"])
            if release is not None:
                what = "Helm release name"
                options["release"] = self.dns_name(f["release"], release, what=what, limit=53)
        if "values" in f:
            if isinstance(f["values"].node, yaml.MappingNode):
                options["values"] = self.plain(f["values"])
            else:
                self.error(f["values"], f"must be a mapping, not {_kind(f['values'].node)}")
        if "valuesFiles" in f:
            files = [self.values_file(item, app_path) for item in self.sequence(f["valuesFiles"])]
            options["values_files"] = tuple(name for name in files if name is not None)
        if "valuesFrom" in f:
            options["values_from"] = self.values_from(f["valuesFrom"])
        return HelmOptions(**options)

    def values_from(self, at: _At) -> ValuesFrom | None:
        """A values file in a Git repository of the fleet."""
        f = self.mapping(at, _VALUES_FROM_KEYS, _VALUES_FROM_KEYS)
        if f is None or "repository" not in f or "path" not in f:
            return None
        repository = self.string(f["repository"])
        path = self.app_path(f["path"])
        if repository is None or path is None:
            return None
        if ("repositories", repository) not in self.seen:
            declared = self.declared("repositories")
            self.error(
                f["repository"], _undeclared("repository", "repositories", repository, declared)
            )
            return None
        kind = self.repo_types.get(repository, RepoType.GIT)
        if kind is not RepoType.GIT:
            self.error(
                f["repository"],
                f"repository '{repository}' is of type {kind}: values come from a Git repository",
            )
            return None
        self.seen[("values.repository", repository)] = f["repository"]
        return ValuesFrom(repository=RepoName(repository), path=path)

    def chart_name(self, at: _At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if len(text) <= 250 and _CHART_NAME.fullmatch(text):
            return text
        self.error(
            at,
            f"'{text}' is not a chart name: lowercase letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit",
        )
        return None

    def version_range(self, at: _At) -> str | None:
        """A chart version or semver range; numbers written unquoted keep their text."""
        text = self.string(at)
        if text is None:
            return None
        try:
            parse_range(text)
        except RangeError as exc:
            self.error(at, str(exc))
            return None
        return text.strip()

    def values_file(self, at: _At, app_path: str | None) -> str | None:
        """A values file, relative to the application path, that stays inside the repository."""
        text = self.string(at)
        if text is None:
            return None
        if text.startswith("/"):
            self.error(at, "must be relative to the application path, not absolute")
            return None
        if app_path is not None:
            inside = posixpath.normpath(posixpath.join(app_path, text))
            if inside == ".." or inside.startswith("../"):
                self.error(at, "leaves the repository: values files must be inside it")
                return None
        return text

    def directory(self, at: _At) -> DirectoryOptions | None:
        f = self.mapping(at, _DIRECTORY_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {
            key: self.boolean(f[key]) for key in ("recurse", "strict") if key in f
        }
        for key in ("include", "exclude"):
            if key in f:
                options[key] = self.globs(f[key])
        if any(value is None for value in options.values()):
            return None
        return DirectoryOptions(**options)

    def globs(self, at: _At) -> tuple[str, ...] | None:
        """One glob or a list of them, relative to the application directory."""
        items = self.sequence(at) if isinstance(at.node, yaml.SequenceNode) else [at]
        globs: list[str] = []
        for item in items:
            text = self.string(item)
            if text is None:
                return None
            if text.startswith("/") or ".." in text.split("/"):
                self.error(item, "must be relative to the application directory, without '..'")
                return None
            globs.append(text)
        return tuple(globs)

    def jsonnet(self, at: _At) -> JsonnetOptions | None:
        f = self.mapping(at, _JSONNET_KEYS)
        if f is None:
            return None
        ext_vars = self.jsonnet_vars(f["extVars"]) if "extVars" in f else ()
        tlas = self.jsonnet_vars(f["tlas"]) if "tlas" in f else ()
        libs: list[str | None] = []
        for item in self.sequence(f["libs"]) if "libs" in f else []:
            libs.append(self.app_path(item))
        if ext_vars is None or tlas is None or None in libs:
            return None
        return JsonnetOptions(
            ext_vars=ext_vars, tlas=tlas, libs=tuple(lib for lib in libs if lib is not None)
        )

    def jsonnet_vars(self, at: _At) -> tuple[JsonnetVar, ...] | None:
        """`{name: value}` (a string, or any other value as Jsonnet code), or Argo CD's list
        of `{name, value, code}`."""
        found: list[JsonnetVar] = []
        if isinstance(at.node, yaml.MappingNode):
            for name, entry in (self.mapping(at, None) or {}).items():
                value = self.plain(entry)
                code = not isinstance(value, str)
                found.append(JsonnetVar(name, json.dumps(value) if code else value, code))
            return tuple(found)
        for item in self.sequence(at):
            f = self.mapping(item, _JSONNET_VAR_KEYS, ("name", "value"))
            if f is None or "name" not in f or "value" not in f:
                return None
            text = self.string(f["value"], required=False)
            flag = self.boolean(f["code"]) if "code" in f else False
            label = self.string(f["name"])
            if label is None or text is None or flag is None:
                return None
            found.append(JsonnetVar(label, text, flag))
        names = [v.name for v in found]
        if len(set(names)) != len(names):
            self.error(at, "names a variable twice")
            return None
        return tuple(found)

    def targets(self, at: _At) -> Targets | None:
        f = self.mapping(at, _TARGET_KEYS)
        if f is None:
            return None
        clusters: list[ClusterName] = []
        for item in self.sequence(f["clusters"]) if "clusters" in f else []:
            name = self.string(item)
            if name is None:
                continue
            if ("clusters", name) not in self.seen:
                declared = self.declared("clusters")
                self.error(item, _undeclared("cluster", "clusters", name, declared))
            elif name in clusters:
                self.warn(item, f"cluster '{name}' is listed twice")
            else:
                clusters.append(ClusterName(name))
        selector = self.selector(f["selector"]) if "selector" in f else None
        return Targets(clusters=tuple(clusters), selector=selector)

    def selector(self, at: _At) -> Selector | None:
        f = self.mapping(at, _SELECTOR_KEYS)
        if f is None:
            return None
        labels = self.labels(f["matchLabels"]) if "matchLabels" in f else {}
        items = self.sequence(f["matchExpressions"]) if "matchExpressions" in f else []
        requirements = [self.requirement(item) for item in items]
        return Selector(
            match_labels=labels, match_expressions=tuple(r for r in requirements if r is not None)
        )

    def requirement(self, at: _At) -> SelectorRequirement | None:
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

    def sync(self, at: _At) -> SyncPolicy | None:
        f = self.mapping(at, _SYNC_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {
            attribute: self.boolean(f[key]) for key, attribute in _SYNC_FLAGS.items() if key in f
        }
        if "driftInterval" in f:
            options["drift_interval"] = self.duration(f["driftInterval"])
        if "waveTimeout" in f:
            options["wave_timeout"] = self.duration(f["waveTimeout"])
        if "hookTimeout" in f:
            options["hook_timeout"] = self.duration(f["hookTimeout"])
        if "replace" in f:
            choice = self.choice(f["replace"], [policy.value for policy in ReplacePolicy])
            options["replace"] = ReplacePolicy(choice) if choice is not None else None
        if any(value is None for value in options.values()):
            return None
        return SyncPolicy(**options)

    # progressive delivery: rollouts, dependencies, change windows

    def defaults(self, at: _At) -> None:
        f = self.mapping(at, _DEFAULTS_KEYS)
        if f is not None and "rollout" in f:
            self.default_rollout = self.rollout(f["rollout"]) or None
            self.seen[("defaults.rollout", "")] = f["rollout"]

    def rollout(self, at: _At) -> RolloutPolicy | None:
        """A rollout policy; None for `false` (everywhere at once) or when it has errors."""
        if isinstance(at.node, yaml.ScalarNode) and at.node.tag == _BOOL_TAG:
            if self.boolean(at):
                self.error(at, "write the rollout as a mapping (waves, bake...), or false for none")
            return None
        f = self.mapping(at, _ROLLOUT_KEYS)
        if f is None:
            return None
        before = len(self.errors)
        options: dict[str, Any] = {}
        if "waves" in f:
            names: dict[str, int] = {}
            waves = []
            for i, item in enumerate(self.sequence(f["waves"])):
                wave = self.wave(item, i)
                if wave is None:
                    continue
                if wave.name in names:
                    self.error(
                        item,
                        f"wave name '{wave.name}' is already used by wave {names[wave.name] + 1}",
                    )
                names.setdefault(wave.name, i)
                waves.append(wave)
            options["waves"] = tuple(waves)
        if "maxParallel" in f:
            options["max_parallel"] = self.count(f["maxParallel"], minimum=1)
        if "maxFailures" in f:
            options["max_failures"] = self.count(f["maxFailures"], minimum=0)
        if "bake" in f:
            options["bake"] = self.duration(f["bake"], minimum=0)
        if "progressDeadline" in f:
            options["progress_deadline"] = self.duration(f["progressDeadline"])
        if "onFailure" in f:
            choice = self.choice(f["onFailure"], [p.value for p in FailurePolicy])
            options["on_failure"] = FailurePolicy(choice) if choice else None
        if len(self.errors) > before:
            return None
        return RolloutPolicy(**options)

    def wave(self, at: _At, index: int) -> WaveSpec | None:
        f = self.mapping(at, _WAVE_KEYS)
        if f is None:
            return None
        name = self.string(f["name"]) if "name" in f else f"wave-{index + 1}"
        kinds = [k for k in ("clusters", "selector", "percent") if k in f]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none of them"
            self.error(
                at, f"a wave takes exactly one of clusters, selector or percent; found {found}"
            )
            return None
        options: dict[str, Any] = {}
        if "clusters" in f:
            options["clusters"] = tuple(self.cluster_names(f["clusters"]))
        if "selector" in f:
            options["selector"] = self.selector(f["selector"])
        if "percent" in f:
            options["percent"] = self.percent(f["percent"])
        if name is None or any(value is None for value in options.values()):
            return None
        return WaveSpec(name=name, **options)

    def cluster_names(self, at: _At) -> list[ClusterName]:
        names: list[ClusterName] = []
        for item in self.sequence(at):
            name = self.string(item)
            if name is None:
                continue
            if ("clusters", name) not in self.seen:
                declared = self.declared("clusters")
                self.error(item, _undeclared("cluster", "clusters", name, declared))
            elif name not in names:
                names.append(ClusterName(name))
        return names

    def percent(self, at: _At) -> float | None:
        node = at.node
        text = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        try:
            value = float(text.removesuffix("%"))
        except ValueError:
            self.error(at, f"must be a percentage from 0 to 100 (40 or '40%'), not {_kind(node)}")
            return None
        if not 0 <= value <= 100 or not math.isfinite(value):
            self.error(
                at, f"{text} is outside 0-100: a wave takes a percentage of the clusters left"
            )
            return None
        return value

    def count(self, at: _At, *, minimum: int) -> int | None:
        node = at.node
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
            value = int(self.loader.construct_object(node))
            if value >= minimum:
                return value
            self.error(at, f"must be at least {minimum}, not {value}")
            return None
        self.error(at, f"must be a whole number, not {_kind(node)}")
        return None

    def depends_on(self, at: _At, name: str | None) -> tuple[AppName, ...]:
        found: list[AppName] = []
        for item in self.sequence(at):
            dep = self.string(item)
            if dep is None:
                continue
            if dep == name:
                self.error(item, f"application '{dep}' cannot depend on itself")
            elif dep not in found:
                found.append(AppName(dep))
                self.seen[("applications.dependsOn", f"{name}/{dep}")] = item
        return tuple(found)

    def check_dependencies(self, fleet: Fleet) -> None:
        """Every dependency is declared; no cycle; a warning where one does not target a
        cluster its dependent does (it is not waited for there)."""
        apps = fleet.applications
        for name, app in apps.items():
            for dep in app.depends_on:
                at = self.seen[("applications.dependsOn", f"{name}/{dep}")]
                if dep not in apps:
                    declared = sorted(apps)
                    self.error(at, _undeclared("application", "applications", dep, declared))
                    continue
                missing = sorted(set(fleet.targets_of(name)) - set(fleet.targets_of(dep)))
                if missing:
                    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                    self.warn(
                        at,
                        f"'{dep}' does not target {shown}: '{name}' does not wait for it there",
                    )
        cycle = _cycle({n: [d for d in a.depends_on if d in apps] for n, a in apps.items()})
        if cycle:
            at = self.seen[("applications.dependsOn", f"{cycle[0]}/{cycle[1]}")]
            self.error(at, f"dependsOn forms a cycle: {' -> '.join(cycle)}; remove one of them")

    def check_waves(self, fleet: Fleet) -> None:
        """No cluster in two waves; a warning for a wave that takes no cluster."""
        labels = {name: c.labels for name, c in fleet.clusters.items()}
        if fleet.default_rollout is not None:
            self.check_policy(
                fleet.default_rollout, labels, self.seen[("defaults.rollout", "")], ""
            )
        for name, app in fleet.applications.items():
            at = self.seen.get(("applications.rollout", name))
            if app.rollout is None or at is None:
                continue
            targets = {c: labels[c] for c in fleet.targets_of(name)}
            self.check_policy(app.rollout, targets, at, f"application '{name}': ")

    def check_policy(
        self,
        policy: RolloutPolicy,
        labels: Mapping[ClusterName, Mapping[str, str]],
        at: _At,
        subject: str,
    ) -> None:
        for cluster, first, second in overlaps(policy, labels):
            self.error(
                at,
                f"{subject}cluster '{cluster}' is in wave '{first}' and in wave '{second}': "
                "a cluster belongs to one wave; narrow one of the selectors",
            )
        if labels:
            for wave in assign_waves(policy, labels):
                if not wave.clusters:
                    self.warn(at, f"{subject}wave '{wave.name}' takes no cluster")

    def windows(self, at: _At) -> tuple[Window, ...]:
        found: list[Window] = []
        names: set[str] = set()
        for item in self.sequence(at):
            before = len(self.errors)
            f = self.mapping(item, _WINDOW_KEYS, ("name", "kind", "schedule", "duration"))
            if f is None:
                continue
            window = self.window(item, f)
            if window is not None and window.name in names:
                self.error(f["name"], f"window '{window.name}' is already declared")
            elif window is not None and len(self.errors) == before:
                names.add(window.name)
                found.append(window)
        return tuple(found)

    def window(self, at: _At, f: dict[str, _At]) -> Window | None:
        name = self.string(f["name"]) if "name" in f else None
        kinds = [k.value for k in WindowKind]
        kind = self.choice(f["kind"], kinds) if "kind" in f else None
        schedule = self.schedule(f["schedule"]) if "schedule" in f else None
        duration = None
        if "duration" in f:
            node = f["duration"].node
            raw = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
            if raw.startswith("-") or raw in ("0", "0s", "0m", "0h"):
                self.error(f["duration"], f"'{raw}': a window needs a positive duration (30m, 2h)")
            else:
                duration = self.duration(f["duration"])
        options: dict[str, Any] = {}
        if "timezone" in f:
            text = self.string(f["timezone"])
            if text is not None:
                try:
                    zone(text)
                    options["timezone"] = text
                except CronError as exc:
                    self.error(f["timezone"], str(exc))
        if "applications" in f:
            apps = []
            for item in self.sequence(f["applications"]):
                app = self.string(item)
                if app is not None and ("applications", app) not in self.seen:
                    declared = self.declared("applications")
                    self.error(item, _undeclared("application", "applications", app, declared))
                elif app is not None:
                    apps.append(AppName(app))
            options["applications"] = tuple(apps)
        if "clusters" in f:
            g = self.mapping(f["clusters"], _WINDOW_CLUSTER_KEYS)
            if g is not None and "selector" in g:
                options["selector"] = self.selector(g["selector"])
        for key, attribute in (("manualSync", "manual_sync"), ("selfHeal", "self_heal")):
            if key in f:
                options[attribute] = self.boolean(f[key])
        if None in (name, kind, schedule, duration) or None in options.values():
            return None
        assert name and kind and schedule and duration
        return Window(
            name=name, kind=WindowKind(kind), schedule=schedule, duration=duration, **options
        )

    def schedule(self, at: _At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        try:
            parse_cron(text)
        except CronError as exc:
            self.error(at, f"not a cron schedule: {exc}")
            return None
        return text.strip()

    # the whole file

    def fleet(self, root: yaml.Node) -> Fleet | None:
        if not isinstance(root, yaml.MappingNode):
            message = "must be a mapping of repositories, clusters and applications"
            self.error(_At(root, "", _line(root)), f"the top level {message}, not {_kind(root)}")
            return None
        top = self.mapping(_At(root, "", _line(root)), _TOP_KEYS) or {}
        repository_keys = (_REPOSITORY_KEYS, ("name", "url"))
        repositories = self.section(top, "repositories", repository_keys, self.repository)
        cluster_keys = (_CLUSTER_KEYS, ("name", "kubeconfig"))
        clusters = self.section(top, "clusters", cluster_keys, self.cluster)
        if "defaults" in top:
            self.defaults(top["defaults"])
        application_keys = (_APPLICATION_KEYS, ("name", "repository"))
        applications = self.section(top, "applications", application_keys, self.application)
        windows = self.windows(top["windows"]) if "windows" in top else ()
        notification_keys = (_NOTIFICATION_KEYS, _NOTIFICATION_REQUIRED)
        notifications = self.section(
            top, "notifications", notification_keys, lambda n, f: read_notification(self, n, f)
        )
        if self.errors:
            return None
        fleet = Fleet(
            repositories={r.name: r for r in repositories},
            clusters={c.name: c for c in clusters},
            applications={a.name: a for a in applications},
            windows=windows,
            default_rollout=self.default_rollout or None,
            notifications=tuple(notifications),
        )
        self.check_dependencies(fleet)
        self.check_waves(fleet)
        fleet_variants.check_variables(self, fleet)
        if self.errors:
            return None
        self.warn_unused(fleet)
        return fleet

    def warn_unused(self, fleet: Fleet) -> None:
        """Warnings that need the whole, valid fleet: targets and uses that resolve to nothing."""
        targeted: set[str] = set()
        for app_name, app in fleet.applications.items():
            chosen = fleet.targets_of(app_name)
            targeted.update(chosen)
            at = self.seen.get(("applications.targets", app_name))
            at = at or self.seen[("applications", app_name)]
            if chosen:
                continue
            if app.targets.selector is None and not app.targets.clusters:
                self.warn(at, f"application '{app_name}' has no targets: it is applied nowhere")
            else:
                message = "targets no cluster: its selector matches none of the declared clusters"
                self.warn(at, f"application '{app_name}' {message}")
        for cluster_name in fleet.clusters:
            if cluster_name not in targeted:
                at = self.seen[("clusters", cluster_name)]
                self.warn(at, f"no application targets cluster '{cluster_name}'")
        for repo_name in fleet.repositories:
            if not fleet.applications_of(repo_name) and not fleet.values_readers_of(repo_name):
                at = self.seen[("repositories", repo_name)]
                self.warn(at, f"no application uses repository '{repo_name}'")


def _check_text(text: str, *, source: str, base_dir: Path) -> FleetReport:
    if len(text) > MAX_FLEET_BYTES:
        message = f"the text is larger than {MAX_FLEET_BYTES // (1024 * 1024)} MiB"
        return FleetReport(None, (FleetIssue(source, None, "", message),))
    bounded = _bound_structure(text, source)
    if bounded is not None:
        return FleetReport(None, (bounded,))
    try:
        loader = _FleetLoader(text)  # reads the whole text: a control character fails here
    except yaml.YAMLError as exc:
        return FleetReport(None, (_syntax_issue(source, text, exc),))
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            return FleetReport(None, (_syntax_issue(source, text, exc),))
        if root is None:
            message = "the file is empty; declare repositories, clusters and applications"
            return FleetReport(None, (FleetIssue(source, None, "", message),))
        reader = _Reader(source, base_dir, loader)
        fleet = reader.fleet(root)
        return FleetReport(fleet, _in_line_order(reader.errors), _in_line_order(reader.warnings))
    finally:
        loader.dispose()


def _bound_structure(text: str, source: str) -> FleetIssue | None:
    """Refuse, from the event stream alone and before anything is built, nesting deeper than
    MAX_FLEET_NESTING and aliases that would expand to more than MAX_FLEET_ALIAS_EXPANSION
    nodes (a YAML bomb); a syntax error is left for the full read to report."""
    depth = 0
    expansion = 0
    sizes: dict[str, int] = {}
    open_sizes: list[tuple[str | None, int]] = []
    try:
        for event in yaml.parse(text, Loader=_FleetLoader):
            line = event.start_mark.line + 1 if event.start_mark else None
            size = 0
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_FLEET_NESTING:
                    message = f"nested deeper than {MAX_FLEET_NESTING} levels"
                    return FleetIssue(source, line, "", message)
                open_sizes.append((event.anchor, 1))
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                anchor, size = open_sizes.pop()
                if anchor is not None:
                    sizes[anchor] = size
            elif isinstance(event, yaml.AliasEvent):
                size = sizes.get(str(event.anchor), 1)
                expansion += size
                if expansion > MAX_FLEET_ALIAS_EXPANSION:
                    message = (
                        f"YAML aliases expand to more than {MAX_FLEET_ALIAS_EXPANSION:,} nodes "
                        "(a YAML bomb?); write the values out instead of aliasing them"
                    )
                    return FleetIssue(source, line, "", message)
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            else:
                continue
            if open_sizes:
                anchor, total = open_sizes[-1]
                open_sizes[-1] = (anchor, total + size)
    except yaml.YAMLError:
        return None
    return None


def _cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """A dependency cycle as its names, first repeated at the end (`a -> b -> a`); [] when
    there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _in_line_order(issues: list[FleetIssue]) -> tuple[FleetIssue, ...]:
    return tuple(sorted(issues, key=lambda issue: issue.line or 0))


def _syntax_issue(source: str, text: str, exc: yaml.YAMLError) -> FleetIssue:
    """A YAML error by line and column; the offending line is not quoted (it may hold a secret)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        message = f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        return FleetIssue(source, mark.line + 1, "", message + context)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return FleetIssue(source, line, "", "invalid YAML: a control character is not allowed")
    return FleetIssue(source, None, "", f"invalid YAML: {exc}")
