"""Rollouts across a total loss of Redis's data (FLUSHALL while fleetsync runs: real Redis, real
Celery workers, the real scheduler ticking, git over `git://`, kubesim clusters over HTTP).

- A rollout the operator pinned while a newer commit waited comes back pinned, from the intents'
  mirror in the clusters (its bundle with it): no cluster moves to the newer commit, which shows
  as waiting, and `rollout unpin` starts it from wave 1.
- A commit that arrives while Redis is empty is rolled out wave by wave, as without the loss:
  the clusters of later waves keep what they run (their status says it is not known) until the
  rollout reaches them.
"""

from __future__ import annotations

from pathlib import Path

from fleetsync.scheduler.rollout_ops import act_on_rollout
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.rollout import Phase
from fleetsync.shared.model.status import Health, SyncState
from tests.support.canary_web import (
    CLUSTERS,
    REST,
    canary_fleet,
    rollout_of,
    value_on,
    web_files,
)
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for


def test_a_pinned_rollout_and_the_commit_waiting_for_it_come_back_after_a_loss(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    with canary_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        interval="1s",
    ) as h:
        two = h.commit("two", web_files("two"))
        wait_for(rollout_of(h, two, Phase.BAKING), timeout=60, what="the canary wave of two baking")
        fleet = load_fleet(h.fleet_file)
        act_on_rollout(h.store, h.runtime.sender, fleet, "web", "pin", reason="watching it")
        h.wait_mirrored("web", "the pinned rollout")
        two_digest = h.store.rollout("web").digest
        three = h.commit("three", web_files("three"))
        wait_for(
            lambda: (
                (r := h.store.rollout("web")) is not None
                and r.waiting is not None
                and r.waiting.revision.sha == three
            ),
            timeout=60,
            what="three waiting for the pinned rollout of two",
        )

        h.lose_redis()

        h.wait_status(
            "web",
            CLUSTERS,
            lambda s: (
                s.revision is not None and "held at" in s.message
                if s.cluster in REST
                else s.revision is not None and s.revision.sha == two
            ),
            "every pair reconciled again after the loss",
        )
        rollout = h.store.rollout("web")
        assert rollout is not None, "the rollout was not read back"
        assert rollout.revision.sha == two and rollout.wave == 0, rollout
        assert rollout.phase.in_progress and rollout.pinned is not None, rollout
        assert rollout.pinned.reason == "watching it", rollout
        assert rollout.waiting is not None and rollout.waiting.revision.sha == three, rollout
        desired = h.store.desired("web")
        assert desired is not None and desired.revision.sha == two, desired
        # The pinned state's bundle came back into Redis from the canary's mirror.
        assert h.bundle_in_redis(two_digest)
        assert value_on(h, "canary-1") == "two"
        assert [value_on(h, c) for c in REST] == ["one"] * len(REST)
        canary = h.status("web", "canary-1")
        assert canary is not None and canary.sync is SyncState.SYNCED, canary

        # The operator lifts the pin: three starts its rollout from wave 1.
        act_on_rollout(h.store, h.runtime.sender, load_fleet(h.fleet_file), "web", "unpin")
        started = wait_for(
            rollout_of(h, three, Phase.BAKING), timeout=60, what="the canary wave of three"
        )
        assert started.wave == 0 and started.pinned is None and not started.after_loss, started
        assert value_on(h, "canary-1") == "three"
        assert [value_on(h, c) for c in REST] == ["one"] * len(REST)


def test_a_commit_arriving_while_redis_is_empty_is_rolled_out_wave_by_wave(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    # A poll interval of an hour: the commit below is seen only by the fetch after the loss.
    with canary_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        interval="1h",
    ) as h:
        two = h.commit("two", web_files("two"))

        h.lose_redis()

        rollout = wait_for(
            rollout_of(h, two, Phase.BAKING), timeout=90, what="the canary wave of two baking"
        )
        assert rollout.wave == 0 and rollout.after_loss, rollout
        held = h.wait_status(
            "web",
            REST,
            lambda s: "has not reached this cluster yet" in s.message,
            "the clusters of the later wave looked at, and left as they are",
        )
        for status in held.values():
            assert status.sync is SyncState.UNKNOWN and status.health is Health.UNKNOWN, status
            assert "not known" in status.message, status
        assert value_on(h, "canary-1") == "two"
        assert [value_on(h, c) for c in REST] == ["one"] * len(REST)

        # The operator promotes the canary wave: the rest get two.
        act_on_rollout(h.store, h.runtime.sender, load_fleet(h.fleet_file), "web", "promote")
        h.wait_status(
            "web",
            CLUSTERS,
            lambda s: (
                s.sync is SyncState.SYNCED
                and s.health is Health.HEALTHY
                and s.revision is not None
                and s.revision.sha == two
            ),
            "two everywhere once promoted",
        )
        assert [value_on(h, c) for c in CLUSTERS] == ["two"] * len(CLUSTERS)
