"""The store against a real redis-server: due-sets, coalescing, leases, bundles, desired state."""

from __future__ import annotations

import threading

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.ids import AppName, Digest, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.store import DesiredState, DueSet, Store
from fleetsync.shared.store.schedule import QUEUED_LOST


def _bundle(n: int) -> Bundle:
    return Bundle.of(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "n"}}
        for i in range(n)
    )


def test_due_members_are_claimed_once_and_pushed_to_their_next_interval(redis_url: str) -> None:
    store = Store.connect(redis_url)
    store.plan_due(DueSet.POLL, {"a": 60.0, "b": 10.0})
    now = store.now() + 10
    assert sorted(store.claim_due(DueSet.POLL, now=now)) == ["a", "b"]
    assert store.claim_due(DueSet.POLL, now=now) == []
    next_b = store.due_at(DueSet.POLL, "b")
    assert next_b is not None and now + 9 <= next_b <= now + 11


def test_concurrent_tickers_never_claim_the_same_member_twice(redis_url: str) -> None:
    store = Store.connect(redis_url)
    store.plan_due(DueSet.POLL, {f"r{i}": 60.0 for i in range(500)})
    claimed: list[str] = []
    lock = threading.Lock()

    def tick() -> None:
        got = Store.connect(redis_url).claim_due(DueSet.POLL, now=store.now() + 10, limit=50)
        with lock:
            claimed.extend(got)

    threads = [threading.Thread(target=tick) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 500


def test_planning_drops_members_no_longer_declared(redis_url: str) -> None:
    store = Store.connect(redis_url)
    store.plan_due(DueSet.POLL, {"a": 60.0, "b": 60.0})
    store.plan_due(DueSet.POLL, {"a": 30.0})
    assert store.due_at(DueSet.POLL, "b") is None
    assert store.claim_due(DueSet.POLL, now=store.now() + 10) == ["a"]


def test_a_shortened_interval_brings_the_next_due_time_forward(redis_url: str) -> None:
    store = Store.connect(redis_url)
    store.plan_due(DueSet.POLL, {"slow": 3600.0, "kept": 3600.0})
    store.claim_due(DueSet.POLL, now=store.now() + 10)
    assert (store.due_at(DueSet.POLL, "slow") or 0) > store.now() + 3000
    store.plan_due(DueSet.POLL, {"slow": 5.0, "kept": 7200.0})
    assert (store.due_at(DueSet.POLL, "slow") or 1e18) <= store.now() + 5
    # A longer interval does not postpone the time already planned.
    assert (store.due_at(DueSet.POLL, "kept") or 0) < store.now() + 4000  # 3600 ± 10%


def test_duplicate_triggers_coalesce_unless_the_new_one_has_better_priority(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    assert store.mark_queued("poll", "platform", 6)
    assert not store.mark_queued("poll", "platform", 6)
    assert store.mark_queued("poll", "platform", 0)
    assert not store.mark_queued("poll", "platform", 6)
    store.clear_queued("poll", "platform")
    assert store.mark_queued("poll", "platform", 6)
    store.clear_queued("poll", "platform")
    assert store.mark_queued("poll", "platform", 6, countdown=120), "a retry waiting its backoff"
    assert store.mark_queued("poll", "platform", 6), "a trigger due now is not absorbed by it"
    assert not store.mark_queued("poll", "platform", 6, countdown=3), "nor by one due soon after"


def test_an_absorbed_trigger_with_a_stronger_reason_hands_it_to_the_queued_message(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    drift, change, manual = (0, "drift"), (1, "change"), (2, "manual")
    message = '{"name": "r", "kwargs": {"app": "web", "reason": "drift"}, "priority": 0}'
    assert store.mark_queued("apply", "web|c1", 0, message=message, reason=drift)
    assert not store.mark_queued("apply", "web|c1", 0, reason=drift), "same reason"
    assert not store.mark_queued("apply", "web|c1", 3, reason=change), "absorbed..."
    [(_, mark, kept)] = store.overdue_queued("apply", after=-60.0)
    assert mark.endswith(" 1 change") and '"reason":"change"' in kept, "...with its reason"
    assert not store.mark_queued("apply", "web|c1", 0, reason=drift), "a weaker one too..."
    assert store.overdue_queued("apply", after=-60.0)[0][1] == mark, "...without its reason"
    assert store.mark_queued_many("apply", ["web|c1"], 3, reason=manual) == [False]
    rnd = store.round()
    taken = store.queue_take_queued(rnd, "apply", "web|c1")
    rnd.run()
    assert taken.value == "manual", "the reason the starting task runs for"
    assert store.mark_queued("apply", "web|c1", 3, reason=drift), "and the mark is gone"
    assert not store.mark_queued("apply", "web|c1", 3), "a trigger without a reason is absorbed"


def test_a_queued_message_long_overdue_is_believed_lost_and_absorbs_no_trigger(
    redis_url: str,
) -> None:
    """A sender killed between marking a message queued and sending it leaves the mark: once
    the message is QUEUED_LOST overdue without having started, a trigger is sent again (on a
    fake clock: the store's `now`)."""
    store = Store.connect(redis_url)
    clock = [1_000_000.0]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    assert store.mark_queued("reconcile", "web|c1", 6)
    clock[0] += QUEUED_LOST - 1
    assert not store.mark_queued("reconcile", "web|c1", 6), "overdue, but maybe only slow"
    assert store.mark_queued_many("reconcile", ["web|c1"], 6) == [False]
    clock[0] += 2
    assert store.mark_queued("reconcile", "web|c1", 6), "believed lost: sent again"
    assert not store.mark_queued("reconcile", "web|c1", 6), "and the new one absorbs as before"
    clock[0] += QUEUED_LOST + 1
    assert store.mark_queued_many("reconcile", ["web|c1", "web|c2"], 6) == [True, True]


def test_only_one_holder_of_a_lease_at_a_time(redis_url: str) -> None:
    store = Store.connect(redis_url)
    assert store.hold_lease("beat", "one", ttl=5)
    assert not store.hold_lease("beat", "two", ttl=5)
    assert store.hold_lease("beat", "one", ttl=5)


def test_bundles_are_content_addressed_and_compressed(redis_url: str) -> None:
    store = Store.connect(redis_url)
    bundle = _bundle(200)
    digest = store.put_bundle(bundle)
    assert digest == bundle.digest
    size = store.bundle_size(digest)
    assert size is not None and size < len(bundle.canonical()) / 4
    fresh = Store.connect(redis_url)
    fresh._bundles.clear()
    assert fresh.get_bundle(digest) == bundle
    assert fresh.get_bundle(Digest("0" * 64)) is None


def test_desired_state_reports_a_change_only_when_the_digest_moves(redis_url: str) -> None:
    store = Store.connect(redis_url)
    app = AppName("web")
    first = DesiredState(
        revision=Revision.parse("main@sha1:a"),
        digest=Digest("d1"),
        renderer="plain",
        rendered_at=1.0,
        observed=Revision.parse("main@sha1:a"),
    )
    assert store.set_desired(app, first)
    same = DesiredState(
        revision=Revision.parse("main@sha1:b"),
        digest=Digest("d1"),
        renderer="plain",
        rendered_at=2.0,
        observed=Revision.parse("main@sha1:b"),
    )
    assert not store.set_desired(app, same)
    kept = store.desired(app)
    assert kept is not None
    assert (str(kept.revision), str(kept.observed)) == ("main@sha1:a", "main@sha1:b")
    moved = DesiredState(
        revision=Revision.parse("main@sha1:c"),
        digest=Digest("d2"),
        renderer="plain",
        rendered_at=3.0,
        observed=Revision.parse("main@sha1:c"),
    )
    assert store.set_desired(app, moved)


def test_repository_failures_count_up_and_a_good_poll_resets_them(redis_url: str) -> None:
    store = Store.connect(redis_url)
    repo = RepoName("platform")
    assert store.record_repo_error(repo, "platform: unreachable") == 1
    assert store.record_repo_error(repo, "platform: unreachable") == 2
    store.record_poll(repo, sha="a" * 40, revision="main@sha1:" + "a" * 40)
    state = store.repo_state(repo)
    assert (state.failures, state.error, state.sha) == (0, None, "a" * 40)


def test_a_new_drift_pair_is_first_due_after_half_to_one_interval(redis_url: str) -> None:
    store = Store.connect(redis_url)
    now = store.now()
    store.plan_due(DueSet.DRIFT, {"web|c1": 300.0}, first_after_interval=True)
    due = store.due_at(DueSet.DRIFT, "web|c1")
    assert due is not None and now + 150 <= due <= now + 301


def test_a_status_not_refreshed_in_time_reads_stale_everywhere_but_in_the_engine(
    redis_url: str,
) -> None:
    from fleetsync.scheduler.fleet_index import FleetIndex
    from fleetsync.scheduler.views import target_statuses
    from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
    from fleetsync.shared.model.ids import ClusterName
    from fleetsync.shared.model.report import PairStatus
    from fleetsync.shared.model.status import Health, SyncState

    store = Store.connect(redis_url)
    revision = Revision(ref="main", sha="a" * 40)
    old = PairStatus(
        application="web",
        cluster="c1",
        sync=SyncState.SYNCED,
        health=Health.HEALTHY,
        revision=revision,
        at=store.now() - 3600,
        message="3 unchanged",
        stale_after=store.now() - 60,
    )
    store.record_status(old)
    assert store.recorded_status("web", "c1") == old
    for seen in (store.status("web", "c1"), *store.statuses("web")):
        assert seen is not None and (seen.sync, seen.health) == (
            SyncState.UNKNOWN,
            Health.UNKNOWN,
        )
        assert seen.message == "stale: last checked 1h ago (was Synced/Healthy: 3 unchanged)"
    assert [s.sync for s in store.pairs_at_revision(str(revision))] == [SyncState.UNKNOWN]
    fleet = Fleet(
        clusters={ClusterName("c1"): Cluster(name=ClusterName("c1"), kubeconfig="/k")},
        applications={
            AppName("web"): Application(
                name=AppName("web"),
                repository=RepoName("r"),
                path="web",
                targets=Targets(clusters=(ClusterName("c1"),)),
            )
        },
    )
    [row] = target_statuses(store, fleet, AppName("web"))
    assert (row.sync, row.health) == ("Unknown", "Unknown") and row.message.startswith("stale:")
    cell = FleetIndex(store).snapshot(fleet).cell("web", "c1")
    assert cell[:2] == ("Unknown", "Unknown") and cell[4].startswith("stale:")
