"""A Git revision as fleetsync reports it: `main@sha1:<hash>`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Revision:
    ref: str
    sha: str

    def __str__(self) -> str:
        return f"{self.ref}@sha1:{self.sha}"

    @property
    def short(self) -> str:
        return f"{self.ref}@sha1:{self.sha[:12]}"

    @classmethod
    def parse(cls, text: str) -> Revision:
        """Parse `ref@sha1:<hash>`; raise ValueError naming the text otherwise."""
        ref, sep, rest = text.rpartition("@sha1:")
        if not sep or not ref or not rest:
            raise ValueError(f"{text!r}: not a revision; expected REF@sha1:HASH")
        return cls(ref=ref, sha=rest)
