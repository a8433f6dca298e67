"""What an application's rollout is, as kept in the intents' mirror of each target cluster, so
that a Redis that lost its data gets back the operator's decisions about it (a pause, a
promotion, an abort) and where the rollout stood (its waves, which clusters it reached, what
each ran before).

The rollout's record is carried as Redis stores it (`Rollout.to_json()`), field by field, without
naming the fields: a field the record gains is mirrored and read back with the others. Only
`VOLATILE` fields (bumped by every write, or words for people) stay out of the mark that says
whether a mirror is behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VOLATILE = frozenset({"version", "updated_at", "reason"})
"""Record fields whose change alone does not make a mirror worth writing again."""
FINISHED = "Complete"
"""The one phase whose rollout is not mirrored: every cluster runs what Git says."""


def rollout_mark(record: Mapping[str, Any] | None, reached: int) -> str:
    """A short, comparable digest of what a mirror of this rollout holds: its record (less
    `VOLATILE` fields) and how many clusters it reached; "" when there is nothing to mirror."""
    if record is None or record.get("phase") == FINISHED:
        return ""
    kept = {k: v for k, v in record.items() if k not in VOLATILE}
    raw = json.dumps([kept, reached], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RolloutSnapshot:
    """One application's rollout as Redis holds it: its record, its plan, what each cluster ran
    before (`<digest> <revision>`, "" for nothing) and each reached cluster's progress."""

    record: Mapping[str, Any]
    plan: Mapping[str, Any]
    previous: Mapping[str, str] = field(default_factory=dict)
    progress: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def rollout_id(self) -> str:
        return str(self.record["id"])

    @property
    def version(self) -> int:
        return int(self.record.get("version", 0))

    @property
    def digest(self) -> str:
        return str(self.record["digest"])

    @property
    def mark(self) -> str:
        return rollout_mark(self.record, len(self.progress))

    def to_json(self) -> dict[str, Any]:
        return {
            "record": dict(self.record),
            "plan": dict(self.plan),
            "previous": dict(self.previous),
            "progress": {c: dict(p) for c, p in self.progress.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutSnapshot:
        """ValueError naming what is missing or malformed."""
        try:
            record, plan = data["record"], data["plan"]
            previous, progress = data.get("previous") or {}, data.get("progress") or {}
            if not isinstance(record, dict) or not isinstance(plan, dict):
                raise ValueError("record and plan must be objects")
            for needed in ("id", "application", "digest", "phase", "version"):
                if needed not in record:
                    raise ValueError(f"the record has no {needed!r}")
            return cls(
                record=record,
                plan=plan,
                previous={str(c): str(v) for c, v in previous.items()},
                progress={str(c): dict(p) for c, p in progress.items()},
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a rollout snapshot: {e}") from e
