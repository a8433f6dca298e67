"""What a reconcile reports for one (application, cluster) pair: sync, health, revision and the
change set, in the field's words. Stored as JSON by the store, printed by the CLI and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fleetsync.shared.model.status import ChangeAction, Health, SyncState


@dataclass(frozen=True, slots=True)
class ObjectChange:
    key: str
    """`group/Kind/namespace/name`"""
    action: ChangeAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class PairStatus:
    application: str
    cluster: str
    sync: SyncState
    health: Health
    revision: str = ""
    digest: str = ""
    at: float = 0.0
    duration: float = 0.0
    message: str = ""
    error_object: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    changes: tuple[ObjectChange, ...] = ()
    drifted: tuple[str, ...] = ()
    reason: str = ""
    """What triggered the reconcile: new desired state, drift check, manual sync, rollback..."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PairStatus:
        values = dict(data)
        values["sync"] = SyncState(values["sync"])
        values["health"] = Health(values["health"])
        values["changes"] = tuple(
            ObjectChange(key=c["key"], action=ChangeAction(c["action"]), message=c["message"])
            for c in values.get("changes", ())
        )
        values["drifted"] = tuple(values.get("drifted", ()))
        return cls(**values)
