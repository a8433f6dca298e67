"""The apply side's state per (application, cluster): status, history, inventory, and the
revision index ("which clusters run revision X, and are they healthy?").

Also per application: suspension (automated sync paused) and a rollback pin (a previous
revision's bundle applied instead of the latest desired state until resumed).

Readers get a status as people should see it (`status`, `statuses`, `pairs_at_revision`: stale
once not refreshed in time, see `PairStatus.as_seen`); the engine reads what it wrote last
(`recorded_status`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fleetsync.shared.model.inventory import Inventory
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.store.base import text
from fleetsync.shared.store.cells import CellStore

HISTORY_LENGTH = 20


class ApplyStore(CellStore):
    def _pair(self, app: str, cluster: str, what: str) -> str:
        return self.key("pair", app, cluster, what)

    # Status and history

    def record_status(self, status: PairStatus, *, history: bool = True) -> None:
        """Write the pair's current status (and append it to its history); keep the revision
        index current."""
        app, cluster = status.application, status.cluster
        body = json.dumps(status.to_json())
        previous = self.recorded_status(app, cluster)
        pipe = self._r.pipeline()
        self._queue_status(pipe, status, body, previous=previous, history=history)
        pipe.execute()

    def _queue_status(
        self,
        pipe: Any,
        status: PairStatus,
        body: str,
        *,
        previous: PairStatus | None,
        history: bool,
    ) -> None:
        """Queue on `pipe` the writes of a pair's status (`body`, its JSON): the status, its
        history entry, the revision index moved on from `previous` (the status it replaces) and
        the pair's cell."""
        app, cluster = status.application, status.cluster
        pipe.set(self._pair(app, cluster, "status"), body)
        pipe.sadd(self.key("pairs", app), cluster)
        if history:
            hkey = self._pair(app, cluster, "history")
            pipe.lpush(hkey, body)
            pipe.ltrim(hkey, 0, HISTORY_LENGTH - 1)
        if previous is not None and previous.revision and previous.revision != status.revision:
            pipe.srem(self.key("revision", str(previous.revision)), f"{app}|{cluster}")
        if status.revision:
            pipe.sadd(self.key("revision", str(status.revision)), f"{app}|{cluster}")
        self._note_cell(pipe, status)

    def recorded_status(self, app: str, cluster: str) -> PairStatus | None:
        """The status as the last reconcile or check wrote it (what the engine works from)."""
        raw = self._r.get(self._pair(app, cluster, "status"))
        return PairStatus.from_json(json.loads(raw)) if raw is not None else None

    def recorded_status_data(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """The statuses of many pairs as last written, as their JSON (one round trip); None
        for a pair never recorded."""
        if not pairs:
            return []
        raws = self._r.mget([self._pair(app, cluster, "status") for app, cluster in pairs])
        return [json.loads(raw) if raw is not None else None for raw in raws]

    def status(self, app: str, cluster: str) -> PairStatus | None:
        """The pair's status as people see it now: stale (Unknown, "last checked N ago") once
        no check refreshed it in time."""
        return self.statuses_of([(app, cluster)])[0]

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
        previous = self.recorded_status(app, cluster)
        pipe = self._r.pipeline()
        for what in ("status", "history", "inventory"):
            pipe.delete(self._pair(app, cluster, what))
        pipe.hdel(self.key("intents_mirrored", cluster), app)
        pipe.srem(self.key("pairs", app), cluster)
        if previous is not None and previous.revision:
            pipe.srem(self.key("revision", str(previous.revision)), f"{app}|{cluster}")
        self._drop_cell(pipe, app, cluster)
        pipe.execute()

    def incr_pair_failures(self, app: str, cluster: str) -> int:
        """Count a failed reconcile in a row (for its retry backoff)."""
        return int(self._r.incr(self._pair(app, cluster, "failures")))

    def reset_pair_failures(self, app: str, cluster: str) -> None:
        self._r.delete(self._pair(app, cluster, "failures"))

    # Inventory (mirrored in the cluster by the apply engine)

    def inventory(self, app: str, cluster: str) -> Inventory | None:
        """What fleetsync applied to the pair, or None if never recorded."""
        raw = self._r.get(self._pair(app, cluster, "inventory"))
        return Inventory.from_mapping(json.loads(raw)) if raw is not None else None

    def set_inventory(self, app: str, cluster: str, inventory: Inventory) -> None:
        self._r.set(self._pair(app, cluster, "inventory"), json.dumps(inventory.to_mapping()))

    def applications_with_status(self) -> list[str]:
        prefix = self.key("pairs", "")
        return sorted(text(k)[len(prefix) :] for k in self._r.scan_iter(match=prefix + "*"))

    def clusters_of(self, app: str) -> Iterable[str]:
        return sorted(text(c) for c in self._r.smembers(self.key("pairs", app)))
