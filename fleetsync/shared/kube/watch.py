"""Watching fleetsync's own objects on one cluster, one watch per kind, to notice drift at once.

`KindWatch` keeps one watch open on one kind in every namespace, selecting only the objects
fleetsync applied (the managed-by label), and tells its `WatchListener` which application's pair
to check, by the rules of `planning.watch_events`:

- it starts from a LIST of one item (the resourceVersion, not the objects), then resumes each
  watch from the last resourceVersion seen (an event's or a bookmark's) when the server ends it
  (after a random 5-10 minutes, as client-go does);
- a failed watch (connection lost, 5xx, refused) is resumed from its revision after a backoff,
  so the server replays what it missed; a 410 (that revision was compacted: events were lost)
  or a second failure in a row starts over from a new LIST and asks for a check of every pair
  that has this kind on the cluster (`check_all`): what happened meanwhile is unknown;
- a 403 on the watch or the LIST, or a cluster that closes watches at once (`QUICK_CLOSES`
  times in a row, each within `quick_close` seconds and without an event), is REFUSED: the
  listener is told (the cluster's status says that interval checks alone serve it) and the
  watch is tried again after `refused_retry`;
- nothing of the objects is kept: each event is decoded, judged and dropped.

`ClusterWatch` runs one `KindWatch` thread per kind of a cluster and follows the set of kinds
it is given; the cluster's state is the worst of its kinds' states.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fleetsync.shared.errors import PermanentError, TransientError, describe
from fleetsync.shared.kube.client import ApiResource, ClusterClient, Forbidden, WatchStream
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE
from fleetsync.shared.kube.ownership import (
    APPLICATION_ANNOTATION,
    APPLICATION_LABEL,
    FIELD_MANAGER,
    MANAGED_BY,
    MANAGED_BY_LABEL,
)
from fleetsync.shared.model.backoff import backoff_delay
from fleetsync.shared.planning.watch_events import Action, Marks, decide

log = logging.getLogger(__name__)

SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
MARKS = Marks(
    field_manager=FIELD_MANAGER,
    app_label=APPLICATION_LABEL,
    app_annotation=APPLICATION_ANNOTATION,
    inventory_namespace=INVENTORY_NAMESPACE,
)
QUICK_CLOSES = 3
RELIST_AFTER_FAILURES = 2
"""A failed watch is resumed from its revision once (the server replays what it missed, or
answers 410); failing again, it starts over from a new LIST."""
CONFIGMAP = ("v1", "ConfigMap")
"""Watched on every cluster: the inventory's mirror is a ConfigMap."""


class WatchState(StrEnum):
    STARTING = "starting"
    WATCHING = "watching"
    FAILING = "failing"
    REFUSED = "refused"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {
    WatchState.WATCHING: 0,
    WatchState.STARTING: 1,
    WatchState.FAILING: 2,
    WatchState.REFUSED: 3,
}


class WatchListener(Protocol):
    def check(self, app: str, why: str) -> None:
        """An event asks for a drift check of `app`'s pair on this cluster."""

    def check_all(self, kind: str, why: str) -> None:
        """Events of `kind` may have been lost: check every pair with objects of that kind."""

    def changed(self) -> None:
        """A kind's watch changed state (see `ClusterWatch.state`)."""


@dataclass(frozen=True, slots=True)
class WatchTimings:
    timeout: tuple[int, int] = (300, 600)
    """Each watch asks the server to end it after a random number of seconds in this range."""
    first_retry: float = 1.0
    max_retry: float = 60.0
    refused_retry: float = 300.0
    quick_close: float = 1.0


class KindWatch:
    """One kind's watch on one cluster; `run` in a thread until `stop`."""

    def __init__(
        self,
        client: ClusterClient,
        resource: ApiResource,
        listener: WatchListener,
        *,
        timings: WatchTimings,
    ) -> None:
        self.client = client
        self.resource = resource
        self.listener = listener
        self.timings = timings
        self.state = WatchState.STARTING
        self.reason = ""
        self.received = 0
        """Events of objects the server sent (bookmarks aside): only of objects the selector
        matches, so none of the objects fleetsync does not own."""
        self._stop = threading.Event()
        self._stream: WatchStream | None = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return f"{self.resource.kind} ({self.resource.api_version})"

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._stream is not None:
                self._stream.close()

    def _set(self, state: WatchState, reason: str = "") -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            self.listener.changed()

    def run(self) -> None:
        revision = ""
        lost = ""
        failures = quick = 0
        while not self._stop.is_set():
            try:
                if not revision:
                    revision = self.client.list_revision(self.resource, label_selector=SELECTOR)
                    if lost:
                        self.listener.check_all(self.resource.kind, lost)
                        lost = ""
                revision, relist, seen = self._watch_once(revision, announce=quick == 0)
                failures = 0
                if relist:
                    lost, revision = relist, ""
                    continue
                if seen or self._stop.is_set():
                    quick = 0
                    continue
                quick += 1
                if quick >= QUICK_CLOSES:
                    self._set(
                        WatchState.REFUSED,
                        f"cluster {self.client.name} closes watches of {self.kind} at once",
                    )
                    self._stop.wait(self.timings.refused_retry)
                else:
                    self._stop.wait(self._backoff(quick))
            except Forbidden as e:
                self._set(WatchState.REFUSED, str(e))
                self._stop.wait(self.timings.refused_retry)
            except (TransientError, PermanentError) as e:
                failures += 1
                self._set(WatchState.FAILING, str(e))
                if failures >= RELIST_AFTER_FAILURES:
                    lost, revision = f"watch of {self.kind} failed: {e}", ""
                log.warning("%s; watching again in a while", e)
                self._stop.wait(self._backoff(failures))
            except Exception as e:  # unforeseen: said, and tried again, never a dead thread
                failures += 1
                log.exception("cluster %s: watch of %s failed", self.client.name, self.kind)
                self._set(WatchState.FAILING, describe(e))
                lost, revision = f"watch of {self.kind} failed: {describe(e)}", ""
                self._stop.wait(self._backoff(failures))

    def _watch_once(self, revision: str, *, announce: bool) -> tuple[str, str, bool]:
        """One watch from `revision` until the server ends it: (the revision to resume from,
        why to relist or "", whether it lasted: an event came or it outlived `quick_close`)."""
        low, high = self.timings.timeout
        stream = self.client.watch(
            self.resource,
            resource_version=revision,
            label_selector=SELECTOR,
            timeout_seconds=random.randint(low, high),
        )
        with self._lock:
            self._stream = stream
            if self._stop.is_set():
                stream.close()
        if announce:
            self._set(WatchState.WATCHING)
        opened = time.monotonic()
        seen = False
        try:
            for event in stream:
                if event.get("type") != "BOOKMARK":
                    self.received += 1
                if not seen:
                    seen = True
                    self._set(WatchState.WATCHING)
                decision = decide(event, MARKS)
                if decision.resource_version:
                    revision = decision.resource_version
                if decision.action is Action.CHECK:
                    self.listener.check(decision.app, decision.why)
                elif decision.action is Action.RELIST:
                    return revision, f"{self.kind}: {decision.why}", True
                elif decision.action is Action.RETRY:
                    raise TransientError(f"cluster {self.client.name}: {self.kind}: {decision.why}")
        finally:
            with self._lock:
                self._stream = None
        lasted = seen or time.monotonic() - opened >= self.timings.quick_close
        return revision, "", lasted

    def _backoff(self, failures: int) -> float:
        return backoff_delay(failures, first=self.timings.first_retry, cap=self.timings.max_retry)


class ClusterWatch:
    """Every watched kind of one cluster, one thread each."""

    def __init__(
        self,
        client: ClusterClient,
        listener: WatchListener,
        *,
        timings: WatchTimings,
        spawn: Callable[[Callable[[], None], str], None] | None = None,
    ) -> None:
        self.client = client
        self.listener = listener
        self.timings = timings
        self._watches: dict[tuple[str, str], KindWatch] = {}
        self._spawn = spawn or _thread
        self.unknown: dict[tuple[str, str], str] = {}
        """Kinds asked for that the cluster does not serve, with the reason."""

    def follow(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Watch exactly these (apiVersion, kind) pairs (plus ConfigMaps, always)."""
        wanted: dict[tuple[str, str], ApiResource] = {}
        for api_version, kind in {CONFIGMAP, *kinds}:
            try:
                resource = self.client.resolve(api_version, kind, any_version=True)
            except (TransientError, PermanentError) as e:
                self.unknown[(api_version, kind)] = str(e)
                continue
            self.unknown.pop((api_version, kind), None)
            wanted.setdefault((resource.group, resource.plural), resource)
        for key in [k for k in self._watches if k not in wanted]:
            self._watches.pop(key).stop()
        for key, resource in wanted.items():
            if key not in self._watches:
                watch = KindWatch(self.client, resource, self.listener, timings=self.timings)
                self._watches[key] = watch
                self._spawn(watch.run, f"watch-{self.client.name}-{resource.plural}")

    @property
    def kinds(self) -> list[str]:
        return sorted(w.resource.kind for w in self._watches.values())

    def state(self) -> tuple[WatchState, str]:
        """The worst state of the cluster's watches, with its reason."""
        if not self._watches:
            return WatchState.STARTING, ""
        worst = max(self._watches.values(), key=lambda w: w.state.rank)
        return worst.state, worst.reason

    def stop(self) -> None:
        for watch in self._watches.values():
            watch.stop()
        self._watches.clear()


def _thread(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()
