"""The whole fleet's sync and health in memory, for pages and lists that filter and count over
every (application, cluster) pair: 1,000 applications on 1,000 clusters is a million pairs, far
too many to read from Redis per request.

`FleetIndex` loads every pair's cell once (see `fleetsync.shared.store.cells`), then, on each
use, reads only the pairs the store's feed says were written since; targets are computed once
per published declaration. It also keeps, per application and per cluster, how many of its
targeted pairs are in each (sync, health) state, moved by each change, so counts and state
filters over the whole fleet cost one small counter per application, not one per pair.

A status goes stale without a write (see `PairStatus.as_seen`): the index keeps the cells that
will, by when, and turns each into Unknown ("stale") once its time has passed, as every other
reader does. A cell written under live watches stays current past its `stale_after` only while
they still cover its pair: the index reads the clusters' drift detection at most every
`WATCH_RECHECK` seconds and turns the cells leaning on a watch that is gone stale.

A snapshot is a consistent, immutable view: updates replace the per-application (and
per-cluster) maps they touch instead of changing them in place.

A Redis that was emptied is noticed when the feed's ids go back or start over (see
`CellStore.read_feed`); one emptied and written again within the millisecond of the last entry
read is not, until the next reload.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.store import Store
from fleetsync.shared.store.cells import Cell, cell_of, parse_cell
from fleetsync.shared.store.watchers import DriftDetection

NOT_YET_RECONCILED = "not yet reconciled"
UNRECONCILED: Cell = ("Unknown", "Unknown", "", 0.0, NOT_YET_RECONCILED, 0.0, 0.0)
WATCH_RECHECK = 5.0
"""Seconds between two reads of the clusters' live watches, which keep the cells written under
them current past their `stale_after`: a watch lost shows in the index within this long."""

State = tuple[str, str]
"""(sync, health) of a pair."""
Tally = Mapping[State, int]


@dataclass(frozen=True)
class FleetSnapshot:
    fleet: Fleet
    targets: Mapping[AppName, tuple[ClusterName, ...]]
    cells: Mapping[str, Mapping[str, Cell]]
    position: str
    """The store feed's position this snapshot is current with (a cheap change token)."""
    apps_of_cluster: Mapping[ClusterName, tuple[AppName, ...]] = field(default_factory=dict)
    app_tally: Mapping[str, Tally] = field(default_factory=dict)
    """Per application: its targeted pairs per (sync, health)."""
    cluster_tally: Mapping[str, Tally] = field(default_factory=dict)
    """Per cluster: the pairs of the applications targeting it per (sync, health)."""

    def cell(self, app: str, cluster: str) -> Cell:
        """The pair's cell; a target never reconciled is Unknown/Unknown."""
        return self.cells.get(app, {}).get(cluster, UNRECONCILED)

    def revisions(self) -> set[str]:
        """Every revision some pair last applied."""
        return {cell[2] for by_cluster in self.cells.values() for cell in by_cluster.values()}


class FleetIndex:
    def __init__(self, store: Store, *, watch_recheck: float = WATCH_RECHECK) -> None:
        self._store = store
        self._watch_recheck = watch_recheck
        self._lock = threading.Lock()
        self._position: str | None = None
        self._cells: dict[str, dict[str, Cell]] = {}
        self._fleet: Fleet | None = None
        self._targets: dict[AppName, tuple[ClusterName, ...]] = {}
        self._target_sets: dict[str, frozenset[str]] = {}
        self._apps_of_cluster: dict[ClusterName, tuple[AppName, ...]] = {}
        self._app_tally: dict[str, Counter[State]] = {}
        self._cluster_tally: dict[str, Counter[State]] = {}
        self._expiring: list[tuple[float, str, str]] = []
        """(stale_after or watched_until, application, cluster) of cells that will go stale,
        soonest first."""
        self._leaning: dict[str, dict[str, float]] = {}
        """cluster -> {application: watched_until} of the cells current past their stale_after
        only while live watches cover their pairs."""
        self._watches: dict[str, DriftDetection] = {}
        self._watches_read_at = float("-inf")

    def snapshot(self, fleet: Fleet) -> FleetSnapshot:
        """The fleet as the store holds it now."""
        with self._lock:
            if fleet is not self._fleet:
                self._use_fleet(fleet)
            self._catch_up()
            now = time.time()
            self._expire(now)
            self._drop_unwatched(now)
            return FleetSnapshot(
                fleet=fleet,
                targets=self._targets,
                cells=self._cells,
                position=self._position or "0-0",
                apps_of_cluster=self._apps_of_cluster,
                app_tally=self._app_tally,
                cluster_tally=self._cluster_tally,
            )

    def _use_fleet(self, fleet: Fleet) -> None:
        targets = {name: fleet.targets_of(name) for name in sorted(fleet.applications)}
        on_cluster: dict[ClusterName, list[AppName]] = {c: [] for c in sorted(fleet.clusters)}
        for app, clusters in targets.items():
            for cluster in clusters:
                on_cluster.setdefault(cluster, []).append(app)
        new_apps = [a for a in targets if a not in self._cells]
        self._fleet, self._targets = fleet, targets
        self._target_sets = {a: frozenset(c) for a, c in targets.items()}
        self._apps_of_cluster = {c: tuple(apps) for c, apps in on_cluster.items()}
        if self._position is not None:
            if new_apps:
                self._cells = {**self._cells, **self._load(new_apps)}
            self._recount()

    def _catch_up(self) -> None:
        if self._position is None:
            self._reload()
            return
        while True:
            read = self._store.read_feed(self._position)
            if not read.complete:
                self._reload()
                return
            if read.pairs:
                self._apply(read.pairs)
            done = read.position == self._position
            self._position = read.position
            if done or not read.pairs:
                return

    def _reload(self) -> None:
        position = self._store.feed_position()
        self._expiring = []
        self._leaning = {}
        self._cells = self._load(list(self._targets))
        self._position = position
        self._recount()

    def _load(self, apps: list[AppName]) -> dict[str, dict[str, Cell]]:
        loaded = self._store.cells(apps)
        for app in [a for a in apps if not loaded[a]]:
            # Statuses written before cells existed: derive their cells (nothing is written).
            loaded[app] = {s.cluster: _cell(s) for s in self._store.statuses(app)}
        now = time.time()
        return {
            app: {cluster: self._seen(app, cluster, cell, now) for cluster, cell in found.items()}
            for app, found in loaded.items()
        }

    def _seen(self, app: str, cluster: str, cell: Cell, now: float) -> Cell:
        """The cell as readers see it at `now` (stale: Unknown); one still current is noted
        for the moment it goes stale."""
        stale_after = cell[5]
        if not stale_after:
            return cell
        if now <= stale_after:
            heapq.heappush(self._expiring, (stale_after, app, cluster))
            return cell
        if self._leans(app, cluster, cell, now):
            return cell
        return _stale(cell, now)

    def _leans(self, app: str, cluster: str, cell: Cell, now: float) -> bool:
        """Whether a cell past its stale_after is current because live watches still cover
        its pair; if so it is noted for its watched_until and for the watch's loss."""
        watched_until = cell[6]
        if not watched_until or now > watched_until or not self._covered(app, cluster, now):
            return False
        heapq.heappush(self._expiring, (watched_until, app, cluster))
        self._leaning.setdefault(cluster, {})[app] = watched_until
        return True

    def _covered(self, app: str, cluster: str, now: float) -> bool:
        if now - self._watches_read_at >= self._watch_recheck:
            self._watches = self._store.drift_detection(self._apps_of_cluster)
            self._watches_read_at = now
        found = self._watches.get(cluster)
        return found is not None and found.covers(app)

    def _expire(self, now: float) -> None:
        """Turn the cells whose time has passed stale, moving their counts."""
        due: list[tuple[str, str, float]] = []
        while self._expiring and self._expiring[0][0] <= now:
            at, app, cluster = heapq.heappop(self._expiring)
            due.append((app, cluster, at))
        stale: list[tuple[str, str, float]] = []
        for app, cluster, at in due:
            current = self._cells.get(app, {}).get(cluster)
            if current is None or at not in (current[5], current[6]):
                continue  # rewritten since: that write's own time counts
            if at == current[5] and self._leans(app, cluster, current, now):
                continue
            stale.append((app, cluster, at))
        self._make_stale(stale, now)

    def _drop_unwatched(self, now: float) -> None:
        """Turn stale the cells that leaned on live watches that no longer cover them."""
        if not self._leaning or now - self._watches_read_at < self._watch_recheck:
            return
        self._watches = self._store.drift_detection(self._apps_of_cluster)
        self._watches_read_at = now
        stale: list[tuple[str, str, float]] = []
        for cluster in list(self._leaning):
            found = self._watches.get(cluster)
            leaning = self._leaning[cluster]
            for app in [a for a in leaning if found is None or not found.covers(a)]:
                stale.append((app, cluster, leaning.pop(app)))
            if not leaning:
                del self._leaning[cluster]
        self._make_stale(stale, now)

    def _make_stale(self, due: list[tuple[str, str, float]], now: float) -> None:
        """Turn stale each (application, cluster) whose cell still holds the time `due` names
        (a cell rewritten since keeps its own), moving their counts."""
        changed: dict[str, dict[str, Cell]] = {}
        moves: list[tuple[str, str, Cell, Cell]] = []
        for app, cluster, at in due:
            current = (changed.get(app) or self._cells.get(app, {})).get(cluster)
            if current is None or at not in (current[5], current[6]) or current[5] >= now:
                continue
            changed.setdefault(app, dict(self._cells.get(app, {})))
            changed[app][cluster] = _stale(current, now)
            moves.append((app, cluster, current, changed[app][cluster]))
        if changed:
            self._cells = {**self._cells, **changed}
            self._move(moves)

    def _recount(self) -> None:
        apps: dict[str, Counter[State]] = {}
        clusters: dict[str, Counter[State]] = {c: Counter() for c in self._apps_of_cluster}
        for app, targets in self._targets.items():
            mine = self._cells.get(app, {})
            tally: Counter[State] = Counter()
            for cluster in targets:
                cell = mine.get(cluster, UNRECONCILED)
                state = (cell[0], cell[1])
                tally[state] += 1
                clusters[cluster][state] += 1
            apps[app] = tally
        self._app_tally, self._cluster_tally = apps, clusters

    def _apply(self, pairs: tuple[tuple[str, str], ...]) -> None:
        unique = list(dict.fromkeys(pairs))
        found = self._store.cells_of(unique)
        now = time.time()
        changed: dict[str, dict[str, Cell]] = {}
        moves: list[tuple[str, str, Cell, Cell]] = []
        for (app, cluster), cell in zip(unique, found, strict=True):
            if app not in changed:
                changed[app] = dict(self._cells.get(app, {}))
            before = changed[app].get(cluster, UNRECONCILED)
            if cell is None:
                changed[app].pop(cluster, None)
                after = UNRECONCILED
            else:
                after = changed[app][cluster] = self._seen(app, cluster, cell, now)
            moves.append((app, cluster, before, after))
        self._cells = {**self._cells, **changed}
        self._move(moves)

    def _move(self, moves: list[tuple[str, str, Cell, Cell]]) -> None:
        """Move the counts of targeted pairs from their state before to their state after."""
        app_tally: dict[str, Counter[State]] = {}
        cluster_tally: dict[str, Counter[State]] = {}
        for app, cluster, before, after in moves:
            if cluster not in self._target_sets.get(app, ()):
                continue
            for tallies, key, source in (
                (app_tally, app, self._app_tally),
                (cluster_tally, cluster, self._cluster_tally),
            ):
                if key not in tallies:
                    tallies[key] = Counter(source.get(key, {}))
                tallies[key][(before[0], before[1])] -= 1
                tallies[key][(after[0], after[1])] += 1
        if app_tally:
            self._app_tally = {**self._app_tally, **app_tally}
            self._cluster_tally = {**self._cluster_tally, **cluster_tally}


def _cell(status: PairStatus) -> Cell:
    return parse_cell(cell_of(status))


def _stale(cell: Cell, now: float) -> Cell:
    sync, health, revision, at, message, _, watched_until = cell
    why = "not checked in time"
    if watched_until and now <= watched_until:
        why += ", and no live watch covers it now"
    was = f"stale: {why} (was {sync}/{health}: {message})"
    return ("Unknown", "Unknown", revision, at, was[:200], 0.0, 0.0)
