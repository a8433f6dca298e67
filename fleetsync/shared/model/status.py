"""The field's words for sync, health and change: ordered where order means something."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class SyncState(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class Health(StrEnum):
    """Ordered from best to worst; an aggregate is the worst of its parts."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        return _HEALTH_ORDER.index(self)

    @classmethod
    def worst(cls, healths: Iterable[Health]) -> Health:
        """The worst health of the parts; an empty set of parts is Healthy."""
        return max(healths, key=lambda h: h.rank, default=cls.HEALTHY)


_HEALTH_ORDER = list(Health)


class ChangeAction(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    REPLACED = "replaced"
    """Deleted and created anew: a field that cannot change in place changed."""
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    FAILED = "failed"
