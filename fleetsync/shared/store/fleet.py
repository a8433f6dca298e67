"""The published fleet declaration: the scheduler writes the last good one, workers read it.

Workers cache the parsed declaration by digest, so reading it costs one GET when unchanged.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.rounds import Reply, Round


class FleetStore(StoreBase):
    _fleet_cache: tuple[str, Fleet] | None = None
    _fleet_lock = threading.Lock()

    def publish_fleet(self, fleet: Fleet, digest: str, *, body: str | None = None) -> bool:
        """Make `fleet` the declaration every process works from (its JSON, the digest and the
        time in one transaction); False if already current. `body` is `fleet`'s JSON when the
        caller has it already (`shared.fleet.publish_form`)."""
        if self._r.get(self.key("fleet", "digest")) == digest.encode():
            return False
        pipe = self._r.pipeline()
        pipe.set(
            self.key("fleet", "json"), body if body is not None else json.dumps(fleet.to_json())
        )
        pipe.set(self.key("fleet", "digest"), digest)
        pipe.set(self.key("fleet", "published_at"), str(self.now()))
        pipe.execute()
        return True

    def load_fleet(self) -> Fleet | None:
        """The current declaration, or None when no scheduler has published one yet."""
        return self.fleet_at(self.fleet_digest())

    def queue_fleet_digest(self, rnd: Round) -> Reply[str | None]:
        """Queue the read of the published fleet's digest on `rnd` (see `fleet_at`)."""
        found: Reply[str | None] = Reply(None)

        def parse(replies: list[Any]) -> None:
            found.value = text(replies[0]) if replies[0] is not None else None

        rnd.add(lambda p: p.get(self.key("fleet", "digest")), parse)
        return found

    def fleet_at(self, digest: str | None) -> Fleet | None:
        """The declaration published with `digest` (cached by digest: no round trip while it
        stays current); None when none is published."""
        if digest is None:
            return None
        cached = self._fleet_cache
        if cached is not None and cached[0] == digest:
            return cached[1]
        raw = self._r.get(self.key("fleet", "json"))
        if raw is None:
            return None
        fleet = Fleet.from_json(json.loads(raw))
        with self._fleet_lock:
            self._fleet_cache = (digest, fleet)
        return fleet

    def fleet_digest(self) -> str | None:
        raw = self._r.get(self.key("fleet", "digest"))
        return text(raw) if raw is not None else None

    def set_fleet_error(self, message: str | None) -> None:
        """Record why the latest edit of fleet.yaml was refused (None clears it)."""
        if message is None:
            self._r.delete(self.key("fleet", "error"))
        else:
            self._r.set(self.key("fleet", "error"), message)

    def fleet_error(self) -> str | None:
        raw = self._r.get(self.key("fleet", "error"))
        return text(raw) if raw is not None else None
