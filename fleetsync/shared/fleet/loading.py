"""fleet.yaml in, a validated `Fleet` (or every issue, in line order) out: the file read with
its bounds (size, nesting, alias expansion) checked on the one parse that composes it into a node
tree (libyaml's parser where present), then walked."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from fleetsync.shared.fleet.document import FleetReader
from fleetsync.shared.fleet.issues import FleetError, FleetFileError, FleetIssue, FleetReport
from fleetsync.shared.fleet.nodes import WITH_LIBYAML, FastFleetLoader, FleetLoader, Loader
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.yaml_bounds import BoundsBreached, YamlBounds

MAX_FLEET_BYTES = 8 * 1024 * 1024
"""The largest fleet.yaml read (a fleet of 10,000 clusters is well under it)."""
MAX_FLEET_NESTING = 100
"""Deepest nesting of mappings and sequences in fleet.yaml (Helm values included)."""
MAX_FLEET_ALIAS_EXPANSION = 100_000
"""Nodes that YAML aliases in fleet.yaml may expand to, all aliases together."""


def load_fleet(path: Path) -> Fleet:
    """The fleet declared in `path`; raises FleetError naming every problem."""
    report = check_fleet(path)
    if report.fleet is None:
        raise FleetError(report.errors)
    return report.fleet


def parse_fleet(text: str, *, source: str, base_dir: Path) -> Fleet:
    """The fleet declared by `text` (named `source` in issues; relative paths from `base_dir`)."""
    report = check_text(text, source=source, base_dir=base_dir)
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
        text = data.decode()  # UTF-8
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issue = FleetIssue(source, line, "", "the file is not UTF-8 text")
        return FleetReport(None, (issue,))
    return check_text(text, source=source, base_dir=Path(os.path.abspath(path)).parent)


def check_text(text: str, *, source: str, base_dir: Path) -> FleetReport:
    if len(text) > MAX_FLEET_BYTES:
        message = f"the text is larger than {MAX_FLEET_BYTES // (1024 * 1024)} MiB"
        return FleetReport(None, (FleetIssue(source, None, "", message),))
    try:
        loader, root = _compose(text)
    except BoundsBreached as exc:
        breach = exc.breach
        return FleetReport(None, (FleetIssue(source, breach.line or None, "", breach.problem),))
    except yaml.YAMLError as exc:
        return FleetReport(None, (_syntax_issue(source, text, exc),))
    try:
        if root is None:
            message = "the file is empty; declare repositories, clusters and applications"
            return FleetReport(None, (FleetIssue(source, None, "", message),))
        reader = FleetReader(source, base_dir, loader)
        fleet = reader.fleet(root)
        return FleetReport(fleet, _in_line_order(reader.errors), _in_line_order(reader.warnings))
    finally:
        loader.dispose()


def _compose(text: str) -> tuple[Loader, yaml.Node | None]:
    """The node tree and its loader, from one parse of `text` held to the bounds (nesting
    deeper than MAX_FLEET_NESTING, aliases expanding to more than MAX_FLEET_ALIAS_EXPANSION
    nodes: `BoundsBreached` before anything that deep or that large is built). libyaml's parser
    where PyYAML has it; a text it refuses is parsed again by the Python parser, whose
    `yaml.YAMLError` (a syntax error, a control character) fleet.yaml's messages quote."""
    if WITH_LIBYAML:
        fast = FastFleetLoader(text, _bounds())
        try:
            return fast, fast.get_single_node()
        except yaml.YAMLError:
            fast.dispose()
    loader = FleetLoader(text, _bounds())
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def _bounds() -> YamlBounds:
    return YamlBounds(
        max_nesting=MAX_FLEET_NESTING, max_alias_expansion=MAX_FLEET_ALIAS_EXPANSION, strict=False
    )


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
