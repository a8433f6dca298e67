"""What a chart source offers and what an application resolves to: chart versions, each with
the digest of its archive (the identity of a chart revision), and the choice of one by a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetsync.shared.charts.semver import Range, RangeError, parse_range, parse_version
from fleetsync.shared.charts.semver import newest as newest_version
from fleetsync.shared.errors import PermanentError

LATEST = "*"
"""The range of an application that names no version: the newest release (no prerelease)."""


@dataclass(frozen=True, slots=True)
class ChartVersion:
    """One version of a chart: where its archive is and the digest that verifies it."""

    name: str
    version: str
    digest: str
    """Hex sha256 of the chart archive (.tgz)."""
    url: str
    """Where the archive is downloaded from (an index's chart URL, a registry's blob URL)."""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "digest": self.digest, "url": self.url}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> ChartVersion:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            digest=str(data["digest"]),
            url=str(data["url"]),
        )


def version_range(text: str | None, *, subject: str) -> Range:
    try:
        return parse_range(text or LATEST)
    except RangeError as exc:
        raise PermanentError(f"{subject}: {exc}") from None


def choose(offered: Sequence[str], wanted: str | None, *, subject: str, where: str) -> str:
    """The newest version in `offered` that `wanted` (a version or range; None: the newest
    release) admits. The error lists the versions there are, newest first."""
    allowed = version_range(wanted, subject=subject)
    parsed = {text: parse_version(text) for text in offered}
    versions = [v for v in parsed.values() if v is not None]
    chosen = newest_version(versions, allowed)
    if chosen is not None:
        return chosen.text
    what = f"version matches {wanted!r}" if wanted else "released version"
    raise PermanentError(f"{subject}: no {what} at {where}; versions there: {listing(offered)}")


def listing(offered: Sequence[str]) -> str:
    """The versions offered, newest first, at most a dozen: for an error message."""
    versions = [v for v in map(parse_version, offered) if v is not None]
    listed = sorted(versions, key=lambda v: v.key, reverse=True)
    shown = ", ".join(v.text for v in listed[:12])
    more = f" (and {len(listed) - 12} more)" if len(listed) > 12 else ""
    return shown + more if shown else "none"


def exact_version(wanted: str | None) -> str | None:
    """`wanted` when it names one version exactly (`1.2.3`, `=1.2.3`), else None."""
    text = (wanted or "").strip().removeprefix("=").strip()
    parsed = parse_version(text)
    return text if parsed is not None and text.count(".") >= 2 else None
