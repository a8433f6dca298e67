"""A revision as fleetsync reports it: a Git commit `main@sha1:<hash>`, or a chart version from
a chart repository or OCI registry `podinfo@6.7.1@sha256:<digest>`.

The hash is the identity (a commit's sha, a chart archive's sha256 digest); the ref is what a
person reads (a branch or tag, a chart's name and version). `short` is the form for tables:
`main@sha1:<12 hex>` for a commit, `podinfo@6.7.1` for a chart. `parse` reads both full forms.
"""

from __future__ import annotations

from dataclasses import dataclass

GIT = "sha1"
CHART = "sha256"
ALGORITHMS = (GIT, CHART)


@dataclass(frozen=True, slots=True)
class Revision:
    ref: str
    sha: str
    algorithm: str = GIT
    """`sha1` for a Git commit, `sha256` for a chart archive's digest."""

    def __str__(self) -> str:
        return f"{self.ref}@{self.algorithm}:{self.sha}"

    @property
    def short(self) -> str:
        if self.is_chart:
            return self.ref
        return f"{self.ref}@sha1:{self.sha[:12]}"

    @property
    def is_chart(self) -> bool:
        return self.algorithm == CHART

    @classmethod
    def chart(cls, name: str, version: str, digest: str) -> Revision:
        """A chart version from a chart repository or registry, identified by its digest."""
        return cls(ref=f"{name}@{version}", sha=digest.removeprefix("sha256:"), algorithm=CHART)

    @classmethod
    def parse(cls, text: str) -> Revision:
        """Parse `ref@sha1:<hash>` or `name@version@sha256:<digest>`; raise ValueError naming
        the text otherwise."""
        ref, sep, rest = text.rpartition("@")
        algorithm, colon, sha = rest.partition(":")
        if not sep or not ref or not colon or not sha or algorithm not in ALGORITHMS:
            raise ValueError(
                f"{text!r}: not a revision; expected REF@sha1:HASH or CHART@VERSION@sha256:DIGEST"
            )
        return cls(ref=ref, sha=sha, algorithm=algorithm)

    def named_by(self, wanted: str, *, min_prefix: int = 4) -> bool:
        """Whether `wanted` names this revision: its full form, its short chart form
        (`podinfo@6.7.1`), or a prefix of its hash of at least `min_prefix` hex digits, with or
        without its `ref@<algorithm>:`."""
        text = wanted.strip()
        if text in (str(self), self.short if self.is_chart else str(self)):
            return True
        ref, sep, rest = text.rpartition("@")
        algorithm, colon, prefix = rest.partition(":")
        if sep and colon and algorithm in ALGORITHMS:
            if ref != self.ref or algorithm != self.algorithm:
                return False
        else:
            prefix = text
        prefix = prefix.lower()
        return (
            len(prefix) >= min_prefix
            and all(ch in "0123456789abcdef" for ch in prefix)
            and self.sha.startswith(prefix)
        )
