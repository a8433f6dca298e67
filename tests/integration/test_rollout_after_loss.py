"""An operator's rollout decisions outlive a total loss of Redis's data: a commit's rollout
reaches the canary, the operator pauses it, then the redis-server is restarted without
persistence (every key gone). Nobody touches anything: the beat publishes the fleet again, the
commit is fetched and every pair reconciled, and each reconcile reads the rollout back from the
intents' mirror in its cluster before choosing: the rollout is still paused at the canary, the
canary keeps the new commit, and the clusters it had not reached keep the previous one (their
bundle, gone from Redis, read back from the mirror too)."""

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


def test_a_paused_rollout_stays_paused_after_redis_restarts_without_its_data(
    tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    with canary_fleet(
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        interval="1s",
    ) as h:
        two = h.commit("two", web_files("two"))
        wait_for(rollout_of(h, two, Phase.BAKING), timeout=60, what="the canary wave of two baking")
        fleet = load_fleet(h.fleet_file)
        paused = act_on_rollout(h.store, h.runtime.sender, fleet, "web", "pause")
        assert paused.phase is Phase.PAUSED
        h.wait_mirrored("web", "the paused rollout")
        assert value_on(h, "canary-1") == "two"
        assert [value_on(h, c) for c in REST] == ["one"] * len(REST)

        h.lose_redis()
        assert h.store.rollout("web") is None, "the restart kept Redis's data"

        h.wait_status(
            "web",
            CLUSTERS,
            lambda s: (
                s.revision is not None and s.at > 0 and "held at" in s.message
                if s.cluster in REST
                else s.revision is not None and s.revision.sha == two
            ),
            "every pair reconciled again after the loss",
        )
        rollout = h.store.rollout("web")
        assert rollout is not None, "the rollout was not read back"
        assert rollout.phase is Phase.PAUSED and rollout.paused_by == "operator", rollout
        assert rollout.revision.sha == two and rollout.wave == 0, rollout
        assert value_on(h, "canary-1") == "two"
        assert [value_on(h, c) for c in REST] == ["one"] * len(REST)
        for cluster in REST:
            status = h.status("web", cluster)
            assert status is not None and status.sync is SyncState.SYNCED, status
            assert status.health is Health.HEALTHY, status
            assert status.revision is not None and status.revision.sha != two, status
            # The bundle it is held at, read back into Redis from the cluster's mirror.
            assert status.digest is not None and h.bundle_in_redis(status.digest), cluster
