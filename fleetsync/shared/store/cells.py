"""The fleet at a glance: one small cell per (application, cluster) and a feed of changed pairs,
so a reader can hold the whole fleet's sync and health in memory and keep it current cheaply.

Every status write (`ApplyStore.record_status`) also writes the pair's cell into the hash
`cells:<app>` (field: cluster, value: `[sync, health, revision, at, message, stale_after,
watched_until]` as compact JSON, the message cut to `CELL_MESSAGE_CHARS`) and appends
`(app, cluster)` to the stream `changes`, trimmed to about `FEED_LENGTH` entries. A reader
loads every cell once (one HGETALL per application), then reads only the feed entries after its
position; when its position is older than the oldest entry kept (or the stream was reset), it
loads everything again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.source import SourceError
from fleetsync.shared.store.watchers import covered_by_watch, queue_owned_state

FEED_LENGTH = 100_000
_APP_STATE_KEYS = ("desired", "source_error", "pin", "suspended")
CELL_MESSAGE_CHARS = 160

Cell = tuple[str, str, str, float, str, float, float]
"""(sync, health, revision, at, message, stale_after, watched_until) of one pair as recorded
(see `PairStatus.as_seen`); stale_after is 0 when the status never goes stale, watched_until 0
when it was not written under live watches."""


@dataclass(frozen=True, slots=True)
class FeedRead:
    position: str
    """The id of the newest entry read (pass it to the next read)."""
    pairs: tuple[tuple[str, str], ...]
    """(application, cluster) of every pair written since the given position, oldest first."""
    complete: bool
    """False when the entry at the given position was trimmed away (later ones may have been
    too) or the feed was reset: the reader must load every cell again."""


@dataclass(frozen=True, slots=True)
class AppState:
    """What the store holds about one application itself (not its pairs)."""

    desired: DesiredState | None
    source_error: SourceError | None
    pin: Pin | None
    suspended: bool


def cell_of(status: PairStatus) -> str:
    return json.dumps(
        [
            status.sync.value,
            status.health.value,
            str(status.revision) if status.revision is not None else "",
            round(status.at, 3),
            status.message[:CELL_MESSAGE_CHARS],
            status.stale_after or 0,
            status.watched_until or 0,
        ],
        separators=(",", ":"),
    )


def parse_cell(raw: bytes | str) -> Cell:
    sync, health, revision, at, message, *rest = json.loads(raw)
    stale_after = float(rest[0]) if rest else 0.0
    watched_until = float(rest[1]) if len(rest) > 1 else 0.0
    return (
        str(sync),
        str(health),
        str(revision),
        float(at),
        str(message),
        stale_after,
        watched_until,
    )


class CellStore(StoreBase):
    def _note_cell(self, pipe: Any, status: PairStatus) -> None:
        """Queue the pair's cell and its feed entry on `pipe` (the status write's pipeline)."""
        app, cluster = status.application, status.cluster
        pipe.hset(self.key("cells", app), cluster, cell_of(status))
        pipe.xadd(
            self.key("changes"), {"a": app, "c": cluster}, maxlen=FEED_LENGTH, approximate=True
        )

    def _drop_cell(self, pipe: Any, app: str, cluster: str) -> None:
        pipe.hdel(self.key("cells", app), cluster)
        pipe.xadd(
            self.key("changes"), {"a": app, "c": cluster}, maxlen=FEED_LENGTH, approximate=True
        )

    def cells(self, apps: Sequence[str]) -> dict[str, dict[str, Cell]]:
        """Every recorded cell of `apps`: {app: {cluster: cell}}."""
        pipe = self._r.pipeline(transaction=False)
        for app in apps:
            pipe.hgetall(self.key("cells", app))
        found: dict[str, dict[str, Cell]] = {}
        for app, fields in zip(apps, pipe.execute(), strict=True):
            found[app] = {text(c): parse_cell(v) for c, v in fields.items()}
        return found

    def cells_of(self, pairs: Iterable[tuple[str, str]]) -> list[Cell | None]:
        wanted = list(pairs)
        pipe = self._r.pipeline(transaction=False)
        for app, cluster in wanted:
            pipe.hget(self.key("cells", app), cluster)
        return [parse_cell(v) if v is not None else None for v in pipe.execute()]

    def statuses_of(self, pairs: Iterable[tuple[str, str]]) -> list[PairStatus | None]:
        """The statuses of many pairs as people see them now (stale ones Unknown, see
        `PairStatus.as_seen`), in one round trip, and one more for the clusters whose live
        watches decide whether a status is still current; None for a pair never recorded."""
        keys = [self.key("pair", app, cluster, "status") for app, cluster in pairs]
        if not keys:
            return []
        now = self.now()
        recorded = [
            PairStatus.from_json(json.loads(raw)) if raw is not None else None
            for raw in self._r.mget(keys)
        ]
        leaning = sorted({s.cluster for s in recorded if s is not None and s.leans_on_watch(now)})
        watch_states: dict[str, Any] = {}
        if leaning:
            pipe = self._r.pipeline(transaction=False)
            for cluster in leaning:
                queue_owned_state(self, pipe, cluster)
            watch_states = dict(zip(leaning, pipe.execute(), strict=True))
        return [
            s.as_seen(now, watched=covered_by_watch(watch_states.get(s.cluster), s.application))
            if s is not None
            else None
            for s in recorded
        ]

    def app_states(self, apps: Sequence[str]) -> dict[str, AppState]:
        """Desired state, source error, rollback pin and suspension of many applications in
        one round trip."""
        pipe = self._r.pipeline(transaction=False)
        for app in apps:
            for what in _APP_STATE_KEYS:
                pipe.get(self.key("app", app, what))
        raws = pipe.execute()
        found = {}
        for i, app in enumerate(apps):
            desired, error, pin, suspended = raws[i * 4 : i * 4 + 4]
            found[app] = AppState(
                desired=DesiredState.from_json(json.loads(desired))
                if desired is not None
                else None,
                source_error=SourceError(**json.loads(error)) if error is not None else None,
                pin=Pin.from_json(json.loads(pin)) if pin is not None else None,
                suspended=suspended is not None,
            )
        return found

    def with_source_errors(self, apps: Sequence[str]) -> set[str]:
        """Which of `apps` have a source error (one round trip)."""
        if not apps:
            return set()
        found = self._r.mget([self.key("app", app, "source_error") for app in apps])
        return {app for app, raw in zip(apps, found, strict=True) if raw is not None}

    def app_states_digest(self, apps: Sequence[str]) -> str:
        """A digest of every application's own state (desired, source error, pin, suspension):
        it changes when any of them does (one round trip)."""
        keys = [self.key("app", a, what) for a in apps for what in _APP_STATE_KEYS]
        digest = hashlib.sha256()
        for raw in self._r.mget(keys) if keys else []:
            digest.update(
                b"\0" if raw is None else b"\1" + (raw if isinstance(raw, bytes) else raw.encode())
            )
        return digest.hexdigest()[:16]

    def feed_position(self) -> str:
        """The newest feed entry's id ("0-0" when the feed is empty)."""
        newest = self._r.xrevrange(self.key("changes"), count=1)
        return text(newest[0][0] or "0-0") if newest else "0-0"

    def read_feed(self, after: str, *, limit: int = 20_000) -> FeedRead:
        """The pairs written after feed position `after` (at most `limit` entries per call;
        `position` tells where to continue)."""
        key = self.key("changes")
        pipe = self._r.pipeline(transaction=False)
        pipe.xrange(key, count=1)
        pipe.xrevrange(key, count=1)
        pipe.xrange(key, min=f"({after}", count=limit)
        pipe.xlen(key)
        oldest, newest, entries, length = pipe.execute()
        if after == "0-0":
            reset, trimmed = False, length >= FEED_LENGTH
        else:
            reset = not newest or _id(text(newest[0][0])) < _id(after)
            trimmed = bool(oldest) and _id(text(oldest[0][0])) > _id(after)
        if reset or trimmed:
            position = text(newest[0][0]) if newest else "0-0"
            return FeedRead(position=position, pairs=(), complete=False)
        pairs = tuple((text(f[b"a"]), text(f[b"c"])) for _, f in entries)
        position = text(entries[-1][0]) if entries else after
        return FeedRead(position=position, pairs=pairs, complete=True)


def _id(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)
