"""The apply side's state per (application, cluster): status, history, inventory, and the
revision index ("which clusters run revision X, and are they healthy?").

Also per application: suspension (automated sync paused) and a rollback pin (a previous
revision's bundle applied instead of the latest desired state until resumed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.store.base import StoreBase, text

HISTORY_LENGTH = 20


@dataclass(frozen=True, slots=True)
class Pin:
    """A rollback: apply `digest` (first produced by `revision`) instead of the desired state."""

    revision: str
    digest: str
    at: float


class ApplyStore(StoreBase):
    def _pair(self, app: str, cluster: str, what: str) -> str:
        return self.key("pair", app, cluster, what)

    # Status and history

    def record_status(self, status: PairStatus, *, history: bool = True) -> None:
        """Write the pair's current status (and append it to its history); keep the revision
        index current."""
        app, cluster = status.application, status.cluster
        body = json.dumps(status.to_json())
        previous = self.status(app, cluster)
        pipe = self._r.pipeline()
        pipe.set(self._pair(app, cluster, "status"), body)
        pipe.sadd(self.key("pairs", app), cluster)
        if history:
            hkey = self._pair(app, cluster, "history")
            pipe.lpush(hkey, body)
            pipe.ltrim(hkey, 0, HISTORY_LENGTH - 1)
        if previous is not None and previous.revision and previous.revision != status.revision:
            pipe.srem(self.key("revision", previous.revision), f"{app}|{cluster}")
        if status.revision:
            pipe.sadd(self.key("revision", status.revision), f"{app}|{cluster}")
        pipe.execute()

    def status(self, app: str, cluster: str) -> PairStatus | None:
        raw = self._r.get(self._pair(app, cluster, "status"))
        return PairStatus.from_json(json.loads(raw)) if raw is not None else None

    def statuses(self, app: str) -> list[PairStatus]:
        clusters = sorted(text(c) for c in self._r.smembers(self.key("pairs", app)))
        found = [self.status(app, c) for c in clusters]
        return [s for s in found if s is not None]

    def history(self, app: str, cluster: str, *, limit: int = HISTORY_LENGTH) -> list[PairStatus]:
        raws = self._r.lrange(self._pair(app, cluster, "history"), 0, limit - 1)
        return [PairStatus.from_json(json.loads(r)) for r in raws]

    def pairs_at_revision(self, revision: str) -> list[PairStatus]:
        """Statuses of every (application, cluster) pair whose last applied revision is
        `revision`."""
        members = sorted(text(m) for m in self._r.smembers(self.key("revision", revision)))
        found = [self.status(*m.split("|", 1)) for m in members]
        return [s for s in found if s is not None]

    def forget_pair(self, app: str, cluster: str) -> None:
        previous = self.status(app, cluster)
        pipe = self._r.pipeline()
        for what in ("status", "history", "inventory"):
            pipe.delete(self._pair(app, cluster, what))
        pipe.srem(self.key("pairs", app), cluster)
        if previous is not None and previous.revision:
            pipe.srem(self.key("revision", previous.revision), f"{app}|{cluster}")
        pipe.execute()

    def incr_pair_failures(self, app: str, cluster: str) -> int:
        """Count a failed reconcile in a row (for its retry backoff)."""
        return int(self._r.incr(self._pair(app, cluster, "failures")))

    def reset_pair_failures(self, app: str, cluster: str) -> None:
        self._r.delete(self._pair(app, cluster, "failures"))

    # Inventory (mirrored in the cluster by the apply engine)

    def inventory(self, app: str, cluster: str) -> dict[str, str] | None:
        """resource key -> apiVersion of what fleetsync applied, or None if never recorded."""
        raw = self._r.get(self._pair(app, cluster, "inventory"))
        return dict(json.loads(raw)) if raw is not None else None

    def set_inventory(self, app: str, cluster: str, entries: Mapping[str, str]) -> None:
        self._r.set(
            self._pair(app, cluster, "inventory"), json.dumps(dict(sorted(entries.items())))
        )

    # Suspension and rollback

    def set_suspended(self, app: str, suspended: bool) -> None:
        if suspended:
            self._r.set(self.key("app", app, "suspended"), "1")
        else:
            self._r.delete(self.key("app", app, "suspended"))

    def is_suspended(self, app: str) -> bool:
        return bool(self._r.exists(self.key("app", app, "suspended")))

    def pin(self, app: str) -> Pin | None:
        raw = self._r.get(self.key("app", app, "pin"))
        return Pin(**json.loads(raw)) if raw is not None else None

    def set_pin(self, app: str, pin: Pin | None) -> None:
        if pin is None:
            self._r.delete(self.key("app", app, "pin"))
        else:
            self._r.set(self.key("app", app, "pin"), json.dumps(asdict(pin)))

    def applications_with_status(self) -> list[str]:
        prefix = self.key("pairs", "")
        return sorted(text(k)[len(prefix) :] for k in self._r.scan_iter(match=prefix + "*"))

    def clusters_of(self, app: str) -> Iterable[str]:
        return sorted(text(c) for c in self._r.smembers(self.key("pairs", app)))
