"""The watcher process (`fleetsync watch`): event-driven drift detection for a shard of clusters.

Every `beat` seconds a `Watcher`:
1. beats in Redis and learns which clusters it owns (`WatcherStore.balance_watchers`: shares
   balanced across the live watcher processes, a dead one's clusters taken over), out of the
   clusters not declared `watch: false`;
2. for each owned cluster, keeps one watch per kind found in the inventories of the pairs the
   fleet declares there (plus ConfigMaps, for the inventory's mirror), through
   `kube.watch.ClusterWatch`; the inventories are read again for the pairs that wrote a status
   since the last beat (the `changes` feed), all of them when the fleet changed;
3. publishes how drift is detected on each owned cluster (`watch:state`), when it changed;
4. once a cluster newly watched by this process (taken over from a dead process, given by the
   balance, or this process just started) has all its watches open, asks for a drift check of
   every pair on it: nobody watched it before, so an edit made then is found now, not at the
   next interval check.

An event that asks for a check of (application, cluster), for a pair the fleet declares, goes
to the `CheckDispatcher`: coalesced per pair (`planning.coalescing`: a burst of 3 at once, then one
per `gap`), and sent from one thread as `Sender.reconcile(..., reason=DRIFT)` with the priority
of a change, so that a reconcile that self-heals runs next. The beat's interval drift checks go
on regardless: they are the backstop, and the only detection on a cluster that refuses watches.
While this process says a cluster is watched (`watch:state`), the beat checks its pairs every
`watchedDriftInterval` instead of every `driftInterval` (`scheduler/tick.py`), except those
listed as uncovered (a kind of their inventory the cluster does not serve, so not watched).

What the process keeps: per owned pair, the kinds of its inventory; nothing of the objects.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from fleetsync.shared.errors import PermanentError, TransientError
from fleetsync.shared.kube import connect
from fleetsync.shared.kube.watch import CONFIGMAP, ClusterWatch, WatchState, WatchTimings
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.planning.coalescing import Coalescer
from fleetsync.shared.store import Store, StoreError
from fleetsync.shared.store.watchers import DriftDetection

log = logging.getLogger(__name__)

BEAT_SECONDS = 5.0
COALESCE_SECONDS = 5.0
KUBE_TIMEOUT = 20.0
DEFAULT_TIMINGS = WatchTimings()
STARTING = "watches starting"
IDLE_WAIT = 5.0
"""Seconds the dispatcher sleeps with no check held back (an offer or `wake` ends it)."""

Pair = tuple[str, str]
Kind = tuple[str, str]


def watcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


Send = Callable[[str, str, bool], object]
"""Sends a drift check of (application, cluster); with True, whatever coalescing mark the pair
holds (`Sender.reconcile_anew`)."""


class CheckDispatcher:
    """Drift checks asked for by watches, coalesced per pair and sent from one thread."""

    def __init__(
        self,
        send: Send,
        *,
        gap: float = COALESCE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._clock = clock
        self._coalescer: Coalescer[Pair] = Coalescer(gap)
        self._ready: collections.deque[Pair] = collections.deque()
        self._anew: set[Pair] = set()
        self._cond = threading.Condition()
        self.sent: collections.Counter[Pair] = collections.Counter()
        """Checks sent, per pair."""

    def offer(self, app: str, cluster: str, *, anew: bool = False) -> None:
        """Ask for a check of the pair; with `anew`, its next check is sent whatever coalescing
        mark the pair holds (a cluster newly watched: its last watcher may have been killed
        between marking a check and sending it)."""
        with self._cond:
            if anew:
                self._anew.add((app, cluster))
            if self._coalescer.offer((app, cluster), self._clock()):
                self._ready.append((app, cluster))
                self._cond.notify()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cond:
                now = self._clock()
                self._ready.extend(self._coalescer.due(now))
                if not self._ready:
                    # `offer` and `wake` notify: with nothing held back, wait for them (a few
                    # wake-ups a minute at idle, not two a second).
                    nxt = self._coalescer.next_due()
                    self._cond.wait(timeout=IDLE_WAIT if nxt is None else min(0.5, nxt - now))
                    continue
                batch = [(p, p in self._anew) for p in self._ready]
                self._ready.clear()
                self._anew.difference_update(p for p, _ in batch)
            for (app, cluster), anew in batch:
                try:
                    self._send(app, cluster, anew)
                    self.sent[(app, cluster)] += 1
                except Exception as exc:
                    log.warning("drift check of %s on %s not enqueued: %s", app, cluster, exc)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _ClusterListener:
    """What one cluster's watches tell the watcher."""

    def __init__(self, watcher: Watcher, cluster: str) -> None:
        self._watcher = watcher
        self._cluster = cluster

    def check(self, app: str, why: str) -> None:
        self._watcher.check(app, self._cluster, why)

    def check_all(self, kind: str, why: str) -> None:
        self._watcher.check_kind(self._cluster, kind, why)

    def changed(self) -> None:
        self._watcher.state_changed(self._cluster)


class Watcher:
    def __init__(
        self,
        store: Store,
        dispatcher: CheckDispatcher,
        *,
        cache_dir: Path,
        ident: str | None = None,
        timings: WatchTimings = DEFAULT_TIMINGS,
        beat: float = BEAT_SECONDS,
        ttl: float | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.cache_dir = cache_dir
        self.ident = ident or watcher_id()
        self.timings = timings
        self.beat_seconds = beat
        self.ttl = ttl if ttl is not None else max(3 * beat, 10.0)
        """How long after its last beat this process's clusters are taken over."""
        self._lock = threading.RLock()
        self._fleet: Fleet | None = None
        self._digest: str | None = None
        self._apps_of: dict[str, tuple[str, ...]] = {}
        self._kinds: dict[Pair, frozenset[Kind]] = {}
        self._cluster_kinds: dict[str, frozenset[Kind]] = {}
        """Each owned cluster's kinds (of all its pairs), until one of them changes."""
        self._followed: dict[str, tuple[ClusterWatch, frozenset[Kind]]] = {}
        """The kinds each cluster's watch last followed: a beat that finds them unchanged
        resolves and starts nothing."""
        self._watches: dict[str, ClusterWatch] = {}
        self._problems: dict[str, str] = {}
        self._published: dict[str, DriftDetection] = {}
        self._feed = "0-0"
        self._unchecked: set[str] = set()
        """Clusters newly watched whose pairs get a drift check once their watches are open."""
        self.owned: list[str] = []

    # -- what watches report (their threads) --------------------------------------------------

    def check(self, app: str, cluster: str, why: str) -> None:
        with self._lock:
            declared = app in self._apps_of.get(cluster, ())
        if declared:
            log.info("%s on %s: %s; drift check", app, cluster, why)
            self.dispatcher.offer(app, cluster)

    def check_kind(self, cluster: str, kind: str, why: str) -> None:
        with self._lock:
            apps = [
                a
                for a in self._apps_of.get(cluster, ())
                if kind == CONFIGMAP[1]
                or any(k == kind for _, k in self._kinds.get((a, cluster), ()))
            ]
        log.info("%s: %s; drift check of %d pairs", cluster, why, len(apps))
        for app in apps:
            self.dispatcher.offer(app, cluster)

    def check_cluster(self, cluster: str, why: str) -> None:
        """A drift check of every pair on `cluster` with objects in its inventory (a pair
        never applied has nothing to drift: its first reconcile comes from the fan-out)."""
        with self._lock:
            apps = [a for a in self._apps_of.get(cluster, ()) if self._kinds.get((a, cluster))]
        log.info("%s: %s; drift check of %d pairs", cluster, why, len(apps))
        for app in apps:
            self.dispatcher.offer(app, cluster, anew=True)

    def state_changed(self, cluster: str) -> None:
        """A watch of `cluster` changed state: published at the next beat."""

    # -- the beat -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.beat()
            except StoreError as exc:
                log.warning("watcher beat failed (Redis): %s; trying again", exc)
            stop.wait(self.beat_seconds)

    def beat(self) -> None:
        fleet_changed = self._load_fleet()
        fleet = self._fleet
        if fleet is None:
            return
        watched = sorted(set(fleet.clusters) - fleet.unwatched())
        owned = self.store.balance_watchers(self.ident, watched, ttl=self.ttl)
        with self._lock:
            for gone in [c for c in self._watches if c not in owned]:
                self._watches.pop(gone).stop()
                self._followed.pop(gone, None)
                self._published.pop(gone, None)
                self._unchecked.discard(gone)
                log.info("%s: no longer watched by this process", gone)
            new = [c for c in owned if c not in self._watches and c not in self._problems]
            self._problems = {c: p for c, p in self._problems.items() if c in owned}
            self.owned = owned
        self._refresh_kinds(owned, full=fleet_changed or bool(new))
        for cluster in owned:
            self._follow(fleet, cluster)
        # Published first: the checks of a cluster newly watched then find it watched, and
        # write statuses that stay current until its backstop check (`SyncPolicy.drift_every`).
        self._publish(owned)
        self._check_newly_watched()

    def _load_fleet(self) -> bool:
        digest = self.store.fleet_digest()
        if digest is not None and digest == self._digest:
            return False
        fleet = self.store.load_fleet()
        apps_of: dict[str, list[str]] = {}
        if fleet is not None:
            for app in sorted(fleet.applications):
                for cluster in fleet.targets_of(app):
                    apps_of.setdefault(cluster, []).append(app)
        with self._lock:
            self._fleet, self._digest = fleet, digest
            self._apps_of = {c: tuple(a) for c, a in apps_of.items()}
        return True

    def _refresh_kinds(self, owned: Iterable[str], *, full: bool) -> None:
        mine = set(owned)
        if full:
            self._feed = self.store.feed_position()
            pairs = [(a, c) for c in sorted(mine) for a in self._apps_of.get(c, ())]
        else:
            read = self.store.read_feed(self._feed)
            self._feed = read.position
            if read.complete:
                pairs = sorted({p for p in read.pairs if p[1] in mine})
            else:
                pairs = [(a, c) for c in sorted(mine) for a in self._apps_of.get(c, ())]
        if not pairs:
            return
        inventories = self.store.inventories(pairs)
        with self._lock:
            for pair, inventory in zip(pairs, inventories, strict=True):
                kinds = frozenset(
                    (e.api_version, e.key.kind) for e in (inventory.entries if inventory else ())
                )
                if self._kinds.get(pair) != kinds:
                    self._kinds[pair] = kinds
                    self._cluster_kinds.pop(pair[1], None)
            declared = {(a, c) for c in mine for a in self._apps_of.get(c, ())}
            for pair in [p for p in self._kinds if p not in declared]:
                del self._kinds[pair]
                self._cluster_kinds.pop(pair[1], None)
            if full:
                self._cluster_kinds.clear()

    def _follow(self, fleet: Fleet, cluster: str) -> None:
        declared = fleet.clusters.get(ClusterName(cluster))
        if declared is None:
            return
        with self._lock:
            watch = self._watches.get(cluster)
            kinds = self._cluster_kinds.get(cluster)
            if kinds is None:
                apps = self._apps_of.get(cluster, ())
                kinds = frozenset(k for a in apps for k in self._kinds.get((a, cluster), ()))
                self._cluster_kinds[cluster] = kinds
            if watch is not None and watch.client.kubeconfig != declared.kubeconfig:
                log.info("%s: its kubeconfig changed; watching again", cluster)
                self._watches.pop(cluster).stop()
                watch = None
        if watch is None:
            try:
                client = connect(declared, cache_dir=self.cache_dir, timeout=KUBE_TIMEOUT)
            except PermanentError as exc:
                with self._lock:
                    self._problems[cluster] = str(exc)
                return
            watch = ClusterWatch(client, _ClusterListener(self, cluster), timings=self.timings)
            with self._lock:
                self._watches[cluster] = watch
                self._problems.pop(cluster, None)
                self._unchecked.add(cluster)
            log.info("%s: watching (this process owns it)", cluster)
        if self._followed.get(cluster) == (watch, kinds) and not watch.unknown:
            return  # the same kinds, all watched: nothing to resolve or start
        try:
            watch.follow(sorted(kinds))
        except (TransientError, PermanentError) as exc:
            log.warning("%s: cannot follow its kinds: %s", cluster, exc)
            return
        self._followed[cluster] = (watch, kinds)

    def _check_newly_watched(self) -> None:
        """A drift check of every pair of each cluster newly watched, once all its watches are
        open (after their LISTs: an edit from then on is an event, one before is found by the
        check)."""
        with self._lock:
            ready = [
                c
                for c in sorted(self._unchecked)
                if c in self._watches and self._watches[c].state()[0] is WatchState.WATCHING
            ]
            self._unchecked.difference_update(ready)
        for cluster in ready:
            self.check_cluster(cluster, "watched by this process from now on, not before")

    def _publish(self, owned: Iterable[str]) -> None:
        for cluster in owned:
            state = self.detection(cluster)
            if self._published.get(cluster) != state:
                self.store.set_drift_detection(cluster, state)
                self._published[cluster] = state
                if state.mode != "watching" and state.reason != STARTING:
                    log.warning("%s: %s", cluster, state.describe())

    def kubeconfig_of(self, cluster: str) -> str | None:
        """The kubeconfig an owned cluster is watched through now."""
        with self._lock:
            watch = self._watches.get(cluster)
        return watch.client.kubeconfig if watch is not None else None

    def watched_kinds(self, cluster: str) -> list[str]:
        """The kinds watched on an owned cluster now."""
        with self._lock:
            watch = self._watches.get(cluster)
        return watch.kinds if watch is not None else []

    def detection(self, cluster: str) -> DriftDetection:
        """How drift is detected on an owned cluster, as this process sees it now."""
        with self._lock:
            problem = self._problems.get(cluster)
            watch = self._watches.get(cluster)
        if problem is not None:
            return DriftDetection("interval", f"cannot watch: {problem}", self.ident)
        if watch is None:
            return DriftDetection("interval", STARTING, self.ident)
        state, reason = watch.state()
        if state is WatchState.WATCHING:
            return DriftDetection("watching", "", self.ident, self._uncovered(cluster, watch))
        if state is WatchState.REFUSED:
            return DriftDetection("interval", f"watches refused: {reason}", self.ident)
        if state is WatchState.FAILING:
            return DriftDetection("interval", f"watches failing: {reason}", self.ident)
        return DriftDetection("interval", STARTING, self.ident)

    def _uncovered(self, cluster: str, watch: ClusterWatch) -> tuple[str, ...]:
        """The applications on `cluster` with a kind in their inventory that is not watched
        there (the cluster does not serve it): their drift is found by interval checks."""
        unknown = set(watch.unknown)
        if not unknown:
            return ()
        with self._lock:
            apps = self._apps_of.get(cluster, ())
            return tuple(a for a in apps if self._kinds.get((a, cluster), frozenset()) & unknown)

    def close(self) -> None:
        """Stop every watch and give the clusters back (another process takes them at once)."""
        with self._lock:
            watches = list(self._watches.values())
            self._watches.clear()
        for watch in watches:
            watch.stop()
        try:
            self.store.leave_watchers(self.ident)
        except StoreError as exc:
            log.warning("watcher %s: clusters not given back (%s); they lapse", self.ident, exc)
