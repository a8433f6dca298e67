"""Semantic versions and the ranges Helm accepts for them (Masterminds semver, as Helm reads
`version:` in Chart.yaml and `--version`).

A version is `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, a leading `v` and missing minor or patch
allowed (`v6.7` reads as 6.7.0). A range is alternatives joined by `||`, each a list of
comparisons joined by spaces or commas, all of which must hold: `1.2.3`, `=1.2.3`, `!=1.2.3`,
`>1.2`, `>=6.0 <7`, `<=1.4`, `~6.7` (>=6.7.0 <6.8.0), `^6.7` (>=6.7.0 <7.0.0; `^0.2` is
<0.3.0), `6.x` / `6.*` / `6` (any 6.y.z), `*`, and `1.2 - 1.4` (>=1.2.0 <1.5.0). A prerelease
version matches only an alternative that names a prerelease itself. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_VERSION = re.compile(
    r"v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_PART = r"(?:0|[1-9]\d*|[xX*])"
_PATTERN = re.compile(
    rf"v?(?P<major>{_PART})(?:\.(?P<minor>{_PART}))?(?:\.(?P<patch>{_PART}))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_OPERATORS = ("!=", ">=", "<=", "=<", "~>", "=", ">", "<", "~", "^")
_WILD = ("x", "X", "*")


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    text: str = ""
    """The version as written (kept: an index or a tag list names it so)."""

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}" + (
            "-" + ".".join(str(p) for p in self.pre) if self.pre else ""
        )

    @property
    def key(self) -> tuple[object, ...]:
        """Sorts by semver precedence: a prerelease before its release, numeric identifiers
        before alphanumeric ones, a longer prerelease after its prefix."""
        pre: tuple[object, ...] = tuple(
            (0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre
        )
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


def parse_version(text: str) -> Version | None:
    """The version `text` names, or None when it is not a semantic version."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    pre = match["pre"]
    return Version(
        major=int(match["major"]),
        minor=int(match["minor"] or 0),
        patch=int(match["patch"] or 0),
        pre=tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else (),
        text=text.strip(),
    )


Check = Callable[[Version], bool]


@dataclass(frozen=True, slots=True)
class _Alternative:
    checks: tuple[Check, ...]
    prerelease: bool
    """Whether the alternative names a prerelease (only then do prereleases match it)."""

    def allows(self, version: Version) -> bool:
        if version.pre and not self.prerelease:
            return False
        return all(check(version) for check in self.checks)


@dataclass(frozen=True, slots=True)
class Range:
    text: str
    alternatives: tuple[_Alternative, ...]

    def allows(self, version: Version) -> bool:
        return any(alternative.allows(version) for alternative in self.alternatives)


class RangeError(ValueError):
    """A version range that does not parse; the message says what is wrong."""


def parse_range(text: str) -> Range:
    """The range `text` names; RangeError saying why it is not one."""
    source = text.strip()
    if not source:
        raise RangeError("empty version range")
    alternatives = tuple(_alternative(group, source) for group in source.split("||"))
    return Range(text=source, alternatives=alternatives)


def newest(versions: Iterable[Version], allowed: Range) -> Version | None:
    """The highest version `allowed` admits, or None."""
    matching = [v for v in versions if allowed.allows(v)]
    return max(matching, key=lambda v: v.key) if matching else None


def sort_newest_first(versions: Iterable[Version]) -> list[Version]:
    return sorted(versions, key=lambda v: v.key, reverse=True)


# --- parsing a range -------------------------------------------------------------------------

_Parts = tuple[int | None, int | None, int | None, tuple[int | str, ...]]


def _alternative(group: str, source: str) -> _Alternative:
    tokens = group.replace(",", " ").split()
    if not tokens:
        raise RangeError(f"{source!r}: an empty alternative between '||'")
    checks: list[Check] = []
    prerelease = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _OPERATORS and i + 1 < len(tokens):
            token, i = token + tokens[i + 1], i + 1
        if i + 2 < len(tokens) and tokens[i + 1] == "-":
            low, high = _parts(token, source), _parts(tokens[i + 2], source)
            checks += [_compare(">=", low), _compare("<=", high)]
            prerelease = prerelease or bool(low[3] or high[3])
            i += 3
            continue
        operator = next((op for op in _OPERATORS if token.startswith(op)), "")
        parts = _parts(token[len(operator) :].strip(), source)
        checks.append(_compare(operator or "=", parts))
        prerelease = prerelease or bool(parts[3])
        i += 1
    return _Alternative(checks=tuple(checks), prerelease=prerelease)


def _parts(text: str, source: str) -> _Parts:
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise RangeError(
            f"{source!r}: {text!r} is not a version or a comparison; write e.g. 1.2.3, "
            "'>=6.0 <7', ^6.7, ~6.7 or 6.x"
        )
    numbers: list[int | None] = []
    wild = False
    for name in ("major", "minor", "patch"):
        part = match[name]
        wild = wild or part is None or part in _WILD
        numbers.append(None if wild else int(part))
    pre = match["pre"]
    prerelease = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
    return (numbers[0], numbers[1], numbers[2], prerelease)


def _floor(parts: _Parts) -> Version:
    major, minor, patch, pre = parts
    return Version(major or 0, minor or 0, patch or 0, pre if patch is not None else ())


def _ceiling(parts: _Parts) -> Version | None:
    """The first version above every version the wildcard parts stand for (None: no bound)."""
    major, minor, _, _ = parts
    if major is None:
        return None
    if minor is None:
        return Version(major + 1, 0, 0)
    return Version(major, minor + 1, 0)


def _compare(operator: str, parts: _Parts) -> Check:
    major, minor, patch, _ = parts
    low = _floor(parts)
    concrete = patch is not None
    ceiling = None if concrete else _ceiling(parts)

    def at_least(bound: Version) -> Check:
        return lambda v: v.key >= bound.key

    def below(bound: Version | None) -> Check:
        return (lambda v: v.key < bound.key) if bound is not None else (lambda v: True)

    def between(check_low: Check, check_high: Check) -> Check:
        return lambda v: check_low(v) and check_high(v)

    match operator:
        case "=":
            if concrete:
                return lambda v: v.key == low.key
            return between(at_least(low), below(ceiling))
        case "!=":
            if concrete:
                return lambda v: v.key != low.key
            inside = between(at_least(low), below(ceiling))
            return lambda v: not inside(v)
        case ">":
            if concrete:
                return lambda v: v.key > low.key
            return (lambda v: False) if ceiling is None else at_least(ceiling)
        case ">=":
            return at_least(low)
        case "<":
            return below(low) if major is not None else (lambda v: False)
        case "<=" | "=<":
            if concrete:
                return lambda v: v.key <= low.key
            return below(ceiling)
        case "~" | "~>":
            if major is None:
                return lambda v: True
            high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
            return between(at_least(low), below(high))
        case "^":
            if major is None:
                return lambda v: True
            if major > 0 or minor is None:
                high = Version(major + 1, 0, 0)
            elif minor > 0 or patch is None:
                high = Version(0, minor + 1, 0)
            else:
                high = Version(0, 0, patch + 1)
            return between(at_least(low), below(high))
    raise RangeError(f"unknown comparison {operator!r}")
