"""What a sync did to each object: a change set in the ecosystem's words.

Apply and prune each report one `Change` per object they looked at (created, configured,
replaced, unchanged, pruned, skipped, failed, with a message where there is something to say);
a `ChangeSet` is those changes in the order they happened, with the counts a status line shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.model import ChangeAction, ResourceKey


@dataclass(frozen=True, slots=True)
class Change:
    key: ResourceKey
    action: ChangeAction
    message: str = ""

    def __str__(self) -> str:
        return f"{self.key}: {self.action}" + (f": {self.message}" if self.message else "")

    def to_json(self) -> dict[str, str]:
        return {"key": str(self.key), "action": str(self.action), "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            key=ResourceKey.parse(data["key"]),
            action=ChangeAction(data["action"]),
            message=str(data.get("message", "")),
        )


@dataclass(frozen=True, slots=True)
class ChangeSet:
    changes: tuple[Change, ...] = ()

    def __add__(self, other: ChangeSet) -> ChangeSet:
        return ChangeSet(self.changes + other.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @classmethod
    def of(cls, changes: Iterable[Change]) -> ChangeSet:
        return cls(tuple(changes))

    def count(self, action: ChangeAction) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def counts(self) -> dict[ChangeAction, int]:
        """Every action with its count, zero included, in the enum's order."""
        return {action: self.count(action) for action in ChangeAction}

    @property
    def failed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is ChangeAction.FAILED)

    @property
    def written(self) -> int:
        """How many objects were written (created or configured) or deleted."""
        return sum(
            self.count(a)
            for a in (
                ChangeAction.CREATED,
                ChangeAction.CONFIGURED,
                ChangeAction.REPLACED,
                ChangeAction.PRUNED,
            )
        )

    def action_of(self, key: ResourceKey) -> ChangeAction | None:
        """The last action recorded for the key, if any."""
        for change in reversed(self.changes):
            if change.key == key:
                return change.action
        return None

    def summary(self) -> str:
        """`2 created, 1 configured, 5 unchanged, 1 pruned` (zero counts left out)."""
        parts = [f"{n} {action}" for action, n in self.counts.items() if n]
        return ", ".join(parts) or "no objects"

    def to_json(self) -> list[dict[str, str]]:
        return [c.to_json() for c in self.changes]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> ChangeSet:
        return cls(tuple(Change.from_json(d) for d in data))
