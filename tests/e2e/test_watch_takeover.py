"""`fleetsync watch` processes sharing the clusters, end to end: real watcher processes beside
real Celery workers, a beat, real Redis, git over the network and kubesim clusters over HTTP.

`driftInterval` is an hour: every heal seen here was started by a watch, never by the interval
backstop (without the watchers these tests time out).
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.tasking import Priority, Queue, TaskName
from tests.support.fleet_harness import Harness
from tests.support.git_server import GitServer, WorkRepo
from tests.support.processes import Proc, fleetsync_env
from tests.support.waiting import wait_for
from tests.support.web_app import wait_healed, watched_web_fleet

CLUSTERS = ("c1", "c2", "c3")
BEAT = 0.5
"""The watchers' beat: a dead one's clusters are taken over 10 s after its last beat."""


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[Harness]:
    with watched_web_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
    ) as harness:
        harness.wait_synced_healthy("web", CLUSTERS)
        yield harness


class Watchers:
    """`fleetsync watch` processes on the fleet's Redis, stopped at the end."""

    def __init__(self, fleet: Harness, redis_url: str, cache: Path) -> None:
        self.fleet = fleet
        self.env = fleetsync_env(redis_url, FLEETSYNC_CACHE_DIR=str(cache))
        self.procs: list[Proc] = []

    def start(self) -> Proc:
        argv = [sys.executable, "-m", "fleetsync", "watch", "--beat", str(BEAT), "--coalesce", "1"]
        proc = Proc(argv, self.env)
        self.procs.append(proc)
        return proc

    def owned_by(self, proc: Proc) -> list[str]:
        """The clusters `proc` owns now, by the owners Redis holds."""
        owners = self.fleet.store.watch_owners()
        return sorted(c for c, owner in owners.items() if owner.endswith(f":{proc.pid}"))

    def watching(self, clusters: list[str], proc: Proc) -> bool:
        """`proc` owns every one of `clusters` and says it watches them."""
        states = self.fleet.store.drift_detection(clusters)
        return all(
            states[c].mode == "watching" and states[c].watcher.endswith(f":{proc.pid}")
            for c in clusters
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
            # Shown by pytest when the test failed.
            print(f"--- fleetsync watch (pid {proc.pid}) ---\n{proc.output()}")


@pytest.fixture
def watchers(fleet: Harness, redis_url: str, tmp_path: Path) -> Iterator[Watchers]:
    found = Watchers(fleet, redis_url, tmp_path / "watch-cache")
    try:
        yield found
    finally:
        found.stop()


def noticed(proc: Proc, cluster: str) -> int:
    """How many events of `cluster` asked `proc` for a drift check (its log says so)."""
    return proc.count(rf"\bweb on {re.escape(cluster)}: .*; drift check$")


def edit(fleet: Harness, cluster: str, value: str) -> None:
    fleet.edit_by_hand(cluster, "web-config", "web", {"value": value})


def test_a_second_watcher_takes_its_share_and_no_cluster_is_watched_twice(
    fleet: Harness, watchers: Watchers
) -> None:
    first = watchers.start()
    wait_for(
        lambda: (
            watchers.owned_by(first) == list(CLUSTERS) and watchers.watching(list(CLUSTERS), first)
        ),
        timeout=60,
        what="the first watcher owning and watching every cluster",
    )
    second = watchers.start()

    def spread() -> tuple[list[str], list[str]] | None:
        mine, theirs = watchers.owned_by(first), watchers.owned_by(second)
        shared = bool(mine) and bool(theirs) and sorted(mine + theirs) == list(CLUSTERS)
        ok = shared and watchers.watching(mine, first) and watchers.watching(theirs, second)
        return (mine, theirs) if ok else None

    kept, taken = wait_for(spread, timeout=60, what="the clusters spread over both watchers")
    assert len(kept) + len(taken) == len(CLUSTERS) and abs(len(kept) - len(taken)) == 1
    for cluster in taken:
        first.wait_line(rf"{cluster}: no longer watched by this process", timeout=30)
    # An edit on every cluster is noticed by its owner alone: the first watcher stopped
    # watching what it gave away.
    for cluster in CLUSTERS:
        edit(fleet, cluster, f"edited-on-{cluster}")
    for cluster in CLUSTERS:
        wait_healed(fleet, cluster, f"{cluster} healed")
        owner, other = (first, second) if cluster in kept else (second, first)
        owner.wait_line(rf"\bweb on {cluster}: .*; drift check$")
        assert noticed(other, cluster) == 0, (cluster, other.output())


def test_a_killed_watchers_clusters_are_taken_over_and_an_edit_meanwhile_is_healed(
    fleet: Harness, watchers: Watchers
) -> None:
    procs = [watchers.start(), watchers.start()]

    def split() -> dict[int, list[str]] | None:
        owned = {p.pid: watchers.owned_by(p) for p in procs}
        ok = all(owned.values()) and all(watchers.watching(owned[p.pid], p) for p in procs)
        every = sorted(c for clusters in owned.values() for c in clusters)
        return owned if ok and every == list(CLUSTERS) else None

    owned = wait_for(split, timeout=60, what="the clusters spread over both watchers")
    victim, survivor = procs
    lost = owned[victim.pid]
    victim.stop(signal.SIGKILL)
    # What a watcher killed between marking a drift check and sending it leaves behind (a
    # SIGKILL cannot be timed into that gap from outside): the pair's coalescing mark and no
    # message. The new owner's check must not be absorbed by it.
    ident = f"{TaskName.RECONCILE}:web:{lost[0]}"
    assert fleet.store.mark_queued(Queue.APPLY, ident, int(Priority.CHANGE))
    # Edited while nobody watches the cluster: its new owner must find it.
    edit(fleet, lost[0], "edited-while-unwatched")
    wait_for(
        lambda: (
            watchers.owned_by(survivor) == list(CLUSTERS)
            and watchers.watching(list(CLUSTERS), survivor)
        ),
        timeout=60,
        what="the killed watcher's clusters taken over once its lease lapsed",
    )
    wait_healed(fleet, lost[0], "the edit made while nobody watched healed")
    # And one edited after the takeover is healed at once.
    edit(fleet, lost[-1], "edited-after-takeover")
    wait_healed(fleet, lost[-1], "the edit after the takeover healed")
    wait_for(
        lambda: noticed(survivor, lost[-1]),
        what="the edit after the takeover noticed by the survivor's watch",
    )
