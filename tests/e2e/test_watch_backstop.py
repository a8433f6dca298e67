"""The interval drift check as a backstop: a pair whose drift live watches cover is checked every
`watchedDriftInterval`, one they do not cover every `driftInterval`, and a pair whose watch is
lost goes back to `driftInterval` at its next due time. A watcher's `Watcher` on threads of the
test beside real Celery workers, the beat's ticker, real Redis, git over the network and kubesim
clusters over HTTP (c2 refuses watches: 403, kubesim's `watches: forbid` fault).

`driftInterval` is 2 s and `watchedDriftInterval` an hour: each pair comes due every 2 s; what is
asserted is which of the due pairs the beat sent a check for (`last_check`), never a duration.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetsync.scheduler.cli import main
from fleetsync.scheduler.tick import pair_member
from fleetsync.shared.store import DueSet
from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for
from tests.support.watcher_threads import running_watcher
from tests.support.web_app import commit_web, watched_fleet_yaml

CLUSTERS = ("c1", "c2")
C1, C2 = pair_member("web", "c1"), pair_member("web", "c2")
WRITES = ("create", "update", "patch", "apply", "delete", "deletecollection")


def backstop_fleet_yaml(url: str, sim: Simulator) -> str:
    return watched_fleet_yaml(url, sim).replace(
        "driftInterval: 1h", "driftInterval: 2s, watchedDriftInterval: 1h"
    )


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[Harness]:
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=commit_web(git_repo),
        clusters=CLUSTERS,
        fleet_yaml=backstop_fleet_yaml,
    ) as harness:
        harness.sim.cluster("c2").set_fault(watches="forbid")
        yield harness


def checked(fleet: Harness, member: str) -> float:
    return fleet.store.last_check(DueSet.DRIFT, member) or 0.0


def checked_covered(fleet: Harness, member: str) -> bool:
    """Whether `member`'s last interval check was sent while live watches covered it."""
    raw = fleet.store.client.hget(fleet.store.key("due", DueSet.DRIFT, "checked"), member)
    return raw is not None and raw.endswith(b" w")


def checked_again(fleet: Harness, member: str, times: int) -> None:
    """Until `member`'s interval check was sent `times` more times."""
    for _ in range(times):
        before = checked(fleet, member)
        wait_for(lambda b=before: checked(fleet, member) > b, what=f"{member} checked again")


def detection_in_status(fleet: Harness) -> dict[str, str]:
    result = CliRunner().invoke(
        main, ["status", "--redis-url", fleet.runtime.settings.redis_url, "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    return {p["cluster"]: p["drift_detection"] for p in json.loads(result.output)}


def kube_writes(fleet: Harness, cluster: str) -> int:
    counts = fleet.sim.cluster(cluster).request_counts()
    return sum(n for (verb, _), n in counts.items() if verb in WRITES)


def test_a_watched_pair_waits_for_its_backstop_and_goes_back_to_the_interval_when_unwatched(
    fleet: Harness, tmp_path: Path
) -> None:
    fleet.wait_synced_healthy("web", CLUSTERS)
    with running_watcher(fleet, tmp_path / "watcher-cache"):

        def watched() -> bool:
            found = fleet.store.drift_detection(CLUSTERS)
            return found["c1"].covers("web") and "watches refused" in found["c2"].reason

        wait_for(watched, what="c1 watched, c2 refusing watches")
        # Its first claim under the watch is checked (the checks before it were not covered);
        # that one may have been sent before `watched` was seen true.
        wait_for(lambda: checked_covered(fleet, C1), what="c1's first check under its watch")
        # The watched pair's status (from the check its watcher asked for when it began to
        # watch c1) stays current until its backstop check is overdue.
        fleet.wait_status(
            "web", ["c1"], lambda s: (s.watched_until or 0) > time.time() + 3600, "fresh for 1h"
        )
        checked_again(fleet, C2, 2)
        c1_at, c1_due = checked(fleet, C1), fleet.store.due_at(DueSet.DRIFT, C1)
        writes = {c: kube_writes(fleet, c) for c in CLUSTERS}
        checked_again(fleet, C2, 3)
        # c1 came due meanwhile (its due time moved on) but its check waits for the backstop.
        assert (fleet.store.due_at(DueSet.DRIFT, C1) or 0) > (c1_due or 0), "c1 not claimed"
        assert checked(fleet, C1) == c1_at, fleet.store.drift_detection(CLUSTERS)
        # c2's checks found nothing to change: nothing written at idle, on either cluster.
        assert {c: kube_writes(fleet, c) for c in CLUSTERS} == writes, [
            fleet.sim.cluster(c).request_counts() for c in CLUSTERS
        ]
        shown = detection_in_status(fleet)
        assert shown["c1"] == "watching (backstop check every 1h)"
        assert shown["c2"].startswith("interval checks only (every 2s): watches refused")
    # The watcher is gone (it gave its clusters back): c1 is checked at its next due time.
    gone = time.time()
    wait_for(lambda: checked(fleet, C1) > gone, what="c1 checked once its watch was lost")
    assert detection_in_status(fleet)["c1"] == (
        "interval checks only (every 2s): no watcher process holds this cluster"
    )
    checked_again(fleet, C1, 2)
    fleet.wait_status(
        "web",
        ["c1"],
        lambda s: s.watched_until is None and (s.stale_after or 0) < time.time() + 60 + 3 + 5,
        "fresh for 2s again",
    )
