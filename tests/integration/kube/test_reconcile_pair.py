"""The apply side's use cases driven directly, on a real Redis and a kubesim cluster (faults are
kubesim's; a cluster of the test's own):
`reconcile_pair` (apply or look, failures as status, retries, history), `refresh_health` and
`remove_pair`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.gates import WINDOW_RECHECK
from fleetsync.shared.kube.identity import CLAIM_NAME, forget_verified
from fleetsync.shared.kube.intents import intents_name
from fleetsync.shared.kube.inventory import mirror_name, read_cluster_inventory
from fleetsync.shared.model import ChangeAction, Health, Inventory, SyncState, Trigger
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    SyncPolicy,
    Targets,
)
from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.report import stale_after
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import (
    ClusterProgress,
    Held,
    Phase,
    Pinned,
    Rollout,
    RolloutPlan,
)
from fleetsync.shared.planning.windows import Freeze
from fleetsync.shared.reconcile import (
    MAX_RETRY_DELAY,
    Outcome,
    reconcile_pair,
    refresh_health,
    remove_pair,
)
from fleetsync.shared.store import Store
from fleetsync.shared.store.watchers import DriftDetection
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map, namespace
from tests.support.waiting import wait_for

APP = AppName("web")
REV1 = Revision(ref="main", sha="1" * 40)
REV2 = Revision(ref="main", sha="2" * 40)


@dataclass
class Pair:
    store: Store
    live: Live
    fleet: Fleet

    @property
    def cluster(self) -> ClusterName:
        return ClusterName(self.live.cluster.name)

    def desire(self, objects: list[Mapping[str, Any]], revision: Revision = REV1) -> Bundle:
        bundle = Bundle.of(objects)
        digest = self.store.put_bundle(bundle)
        self.store.set_desired(APP, DesiredState(revision, digest, "plain", rendered_at=1.0))
        return bundle

    def reconcile(self, trigger: Trigger = Trigger.CHANGE, fleet: Fleet | None = None) -> Outcome:
        return reconcile_pair(
            self.store,
            fleet or self.fleet,
            APP,
            self.cluster,
            trigger=trigger,
            cache_dir=self.live.cache_dir,
        )

    def remove(self, fleet: Fleet) -> None:
        left = remove_pair(self.store, fleet, APP, self.cluster, cache_dir=self.live.cache_dir)
        assert left == Outcome(status=None)

    def watched(self) -> None:
        """A live watcher owns the pair's cluster and says its watches cover it."""
        assert self.store.balance_watchers("w1", [self.cluster], ttl=60) == [self.cluster]
        self.store.set_drift_detection(self.cluster, DriftDetection(mode="watching", watcher="w1"))

    def with_policy(self, **policy: Any) -> Fleet:
        app = self.fleet.applications[APP]
        return replace(
            self.fleet, applications={APP: replace(app, sync=replace(app.sync, **policy))}
        )


def _fleet(cluster: Cluster, **policy: Any) -> Fleet:
    app = Application(
        name=APP,
        repository=RepoName("platform"),
        path="web",
        namespace="web",
        targets=Targets(clusters=(cluster.name,)),
        sync=SyncPolicy(drift_interval=300.0, **policy),
    )
    return Fleet(clusters={cluster.name: cluster}, applications={APP: app})


@pytest.fixture
def live(kubesim_live: Live) -> Live:
    return kubesim_live


@pytest.fixture
def pair(redis_url: str, live: Live) -> Pair:
    return Pair(Store.connect(redis_url), live, _fleet(live.cluster))


WEB = [namespace("web"), config_map("settings", "web", data={"mode": "blue"})]


def test_a_reconcile_applies_and_records_inventory_status_and_history(pair: Pair) -> None:
    bundle = pair.desire(WEB)
    before = pair.store.now()
    outcome = pair.reconcile()
    status = outcome.status
    assert status is not None and outcome.retry_in is None
    assert (status.sync, status.revision, status.digest) == (SyncState.SYNCED, REV1, bundle.digest)
    assert status.counts["created"] == 2 and status.trigger is Trigger.CHANGE
    assert status.stale_after is not None
    assert stale_after(before, 300.0) <= status.stale_after <= stale_after(pair.store.now(), 300.0)
    assert pair.store.inventory(APP, pair.cluster) == Inventory.of(WEB)
    assert read_cluster_inventory(pair.live.client, APP) == Inventory.of(WEB)
    assert pair.store.history(APP, pair.cluster) == [status]
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is not None


def test_a_status_written_under_live_watches_is_current_until_the_backstop_while_watched(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    unwatched = pair.reconcile().status
    assert unwatched is not None and unwatched.watched_until is None
    pair.watched()
    before = pair.store.now()
    status = pair.reconcile(Trigger.DRIFT).status
    after = pair.store.now()
    assert status is not None and status.stale_after and status.watched_until
    # Current for the backstop (1h) while the watch covers it, for driftInterval once not.
    assert stale_after(before, 3600.0) <= status.watched_until <= stale_after(after, 3600.0)
    assert stale_after(before, 300.0) <= status.stale_after <= stale_after(after, 300.0)
    assert pair.store.status(APP, pair.cluster) == status
    late = status.stale_after + 1
    assert status.as_seen(late, watched=True) == status
    assert status.as_seen(late, watched=False).sync is SyncState.UNKNOWN


def test_a_quiet_drift_check_adds_no_history_but_one_that_heals_does(pair: Pair) -> None:
    pair.desire(WEB)
    first = pair.reconcile().status
    for _ in range(2):
        quiet = pair.reconcile(Trigger.DRIFT).status
        assert quiet is not None and quiet.counts["unchanged"] == 2
    assert pair.store.history(APP, pair.cluster) == [first]
    assert pair.store.status(APP, pair.cluster) == quiet, "the status itself is refreshed"

    pair.live.operator.merge_patch(
        "/api/v1/namespaces/web/configmaps/settings", {"data": {"mode": "green"}}
    )
    healed = pair.reconcile(Trigger.DRIFT).status
    assert healed is not None and healed.counts["configured"] == 1
    assert pair.store.history(APP, pair.cluster) == [healed, first]


def test_history_keeps_every_triggered_reconcile_and_a_drift_check_that_moved_the_state(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    first = pair.reconcile().status
    manual = pair.reconcile(Trigger.MANUAL).status
    assert manual is not None and manual.counts["unchanged"] == 2
    assert pair.store.history(APP, pair.cluster) == [manual, first], "nothing to do, still kept"

    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    failed = pair.reconcile(Trigger.DRIFT).status
    assert failed is not None and failed.sync is SyncState.UNKNOWN
    assert failed.trigger is Trigger.DRIFT, "a failure says which trigger met it"
    pair.live.sim.clear_faults()
    recovered = pair.reconcile(Trigger.DRIFT).status
    assert recovered is not None and recovered.sync is SyncState.SYNCED
    assert recovered.counts["unchanged"] == 2, "the drift check changed nothing"
    assert pair.store.history(APP, pair.cluster)[:2] == [recovered, failed], "but the state moved"


def test_a_cluster_answering_503_is_unknown_and_retried_with_growing_backoff(pair: Pair) -> None:
    pair.desire(WEB)
    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    first, second = pair.reconcile(), pair.reconcile()
    for outcome in (first, second):
        assert outcome.status is not None and outcome.status.sync is SyncState.UNKNOWN
        assert outcome.status.health is Health.UNKNOWN
        assert outcome.status.failed, "a failed reconcile says so (notifications read it)"
        assert "503" in outcome.status.message or "unavailable" in outcome.status.message.lower()
    assert first.retry_in is not None and 2 * 0.8 <= first.retry_in <= 2 * 1.2
    assert second.retry_in is not None and 4 * 0.8 <= second.retry_in <= 4 * 1.2
    assert pair.store.history(APP, pair.cluster)[0] == second.status

    pair.live.sim.clear_faults()
    recovered = pair.reconcile()
    assert recovered.status is not None and recovered.status.sync is SyncState.SYNCED
    assert not recovered.status.failed
    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    again = pair.reconcile()
    assert again.retry_in is not None and again.retry_in <= 2 * 1.2, "a success resets backoff"


def test_the_retry_delay_is_capped() -> None:
    assert MAX_RETRY_DELAY == 300.0


def test_a_kubeconfig_that_is_not_yaml_ends_as_status_with_the_error_and_a_retry(
    pair: Pair, tmp_path: Path
) -> None:
    pair.desire(WEB)
    assert pair.reconcile().status is not None
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [\n  token: s3cr3t-value {{{\n")
    cluster = Cluster(name=pair.cluster, kubeconfig=str(broken))
    fleet = replace(pair.fleet, clusters={pair.cluster: cluster})
    outcome = pair.reconcile(fleet=fleet)
    status = outcome.status
    assert status is not None and outcome.retry_in is not None
    assert (status.sync, status.health) == (SyncState.UNKNOWN, Health.UNKNOWN)
    assert status.message.split(":")[0].endswith("Error"), status.message
    assert "s3cr3t" not in status.message
    assert pair.store.status(APP, pair.cluster) == status, "never the previous Synced/Healthy"
    assert status.revision == REV1, "what the pair runs is still known"


def test_a_suspended_application_is_only_looked_at_and_shows_what_it_is_behind(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    pair.reconcile()
    pair.store.set_suspended(APP, True)
    pair.desire([namespace("web"), config_map("settings", "web", data={"mode": "red"})], REV2)
    status = pair.reconcile().status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC
    assert status.revision == REV1 and f"{REV2} not applied yet" in status.message
    assert "suspended" in status.message
    live = pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings")
    assert live is not None and live["data"] == {"mode": "blue"}

    manual = pair.reconcile(Trigger.MANUAL).status
    assert manual is not None and manual.sync is SyncState.SYNCED and manual.revision == REV2


def test_a_rollback_pin_is_applied_instead_of_the_latest_desired_state(pair: Pair) -> None:
    old = pair.desire(WEB)
    pair.reconcile()
    pair.desire([namespace("web"), config_map("settings", "web", data={"mode": "red"})], REV2)
    pair.reconcile()
    pair.store.set_pin(APP, Pin(revision=REV1, digest=old.digest, at=1.0))
    status = pair.reconcile(Trigger.MANUAL).status
    assert status is not None and (status.revision, status.digest) == (REV1, old.digest)
    live = pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings")
    assert live is not None and live["data"] == {"mode": "blue"}


def test_a_cluster_whose_own_render_failed_keeps_its_bundle_and_says_why(pair: Pair) -> None:
    bundle = Bundle.of(WEB)
    digest = pair.store.put_bundle(bundle)
    first = DesiredState(REV1, Digest("set-1"), "plain", rendered_at=1.0, variants=1)
    pair.store.set_desired_variants(APP, first, {pair.cluster: digest})
    pair.reconcile()
    error = "web: cluster 'x': ...: cluster.values.zone is not defined for cluster 'x'"
    second = DesiredState(REV2, Digest("set-2"), "plain", rendered_at=2.0, variants=1)
    pair.store.set_desired_variants(APP, second, {pair.cluster: digest}, {pair.cluster: error})

    for suspended in (False, True):  # an apply, then a look
        pair.store.set_suspended(APP, suspended)
        status = pair.reconcile(Trigger.DRIFT).status
        assert status is not None and (status.revision, status.digest) == (REV1, digest)
        assert status.sync is SyncState.OUT_OF_SYNC and status.failed
        assert status.message.startswith(
            f"the render of {REV2} failed for this cluster: {error}; still running {REV1} ("
        )
    pair.store.set_suspended(APP, False)
    live = pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings")
    assert live is not None and live["data"] == {"mode": "blue"}

    pair.store.set_desired_variants(APP, second, {}, {pair.cluster: error})
    pair.store.forget_pair(APP, pair.cluster)
    never = pair.reconcile().status
    assert never is not None and never.sync is SyncState.OUT_OF_SYNC and never.failed
    assert never.message == f"nothing to run: the render of {REV2} failed for this cluster: {error}"


def test_a_health_refresh_keeps_a_render_failure_and_its_message_until_a_reconcile_clears_it(
    pair: Pair,
) -> None:
    digest = pair.store.put_bundle(Bundle.of(WEB))
    first = DesiredState(REV1, Digest("set-1"), "plain", rendered_at=1.0, variants=1)
    pair.store.set_desired_variants(APP, first, {pair.cluster: digest})
    pair.reconcile()
    error = "web: cluster 'x': ...: cluster.values.zone is not defined for cluster 'x'"
    second = DesiredState(REV2, Digest("set-2"), "plain", rendered_at=2.0, variants=1)
    pair.store.set_desired_variants(APP, second, {pair.cluster: digest}, {pair.cluster: error})
    failed = pair.reconcile(Trigger.DRIFT).status
    assert failed is not None and failed.failed
    refresh = lambda: refresh_health(  # noqa: E731
        pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir
    )

    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")
    assert refresh() is Health.MISSING
    after = pair.store.recorded_status(APP, pair.cluster)
    assert after is not None and after.health is Health.MISSING, "health is updated"
    assert after.message == failed.message, "the render error is not replaced by health's"
    assert (after.sync, after.failed) == (SyncState.OUT_OF_SYNC, True)

    pair.live.sim.set_fault(error_rate=1.0, error_code=500)
    assert refresh() is Health.UNKNOWN
    unchecked = pair.store.recorded_status(APP, pair.cluster)
    assert unchecked is not None and unchecked.failed
    assert unchecked.message.startswith(f"{failed.message}; health not checked: ")
    pair.live.sim.clear_faults()

    pair.store.set_desired_variants(APP, second, {pair.cluster: digest})
    cleared = pair.reconcile().status
    assert cleared is not None and not cleared.failed and cleared.health is Health.HEALTHY
    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")
    assert refresh() is Health.MISSING
    healthy_again = pair.store.recorded_status(APP, pair.cluster)
    assert healthy_again is not None and healthy_again.message.startswith(
        "core/ConfigMap/web/settings: Missing"
    ), "once cleared, a health refresh says again what is unhealthy"


def test_a_health_refresh_keeps_a_permanent_failure_of_the_last_reconcile(pair: Pair) -> None:
    pair.desire(WEB)
    pair.reconcile()
    pair.store.set_desired(APP, DesiredState(REV2, Digest("f" * 64), "plain", rendered_at=2.0))
    failed = pair.reconcile().status
    assert failed is not None and failed.failed and "missing from Redis" in failed.message
    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")

    health = refresh_health(
        pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir
    )

    assert health is Health.MISSING
    after = pair.store.recorded_status(APP, pair.cluster)
    assert after is not None and after.health is Health.MISSING
    assert (after.message, after.sync, after.failed) == (failed.message, failed.sync, True)


def test_without_a_desired_state_the_pair_waits_with_the_source_error(pair: Pair) -> None:
    pair.store.set_source_error(APP, "web: path 'web' does not exist", revision=str(REV1))
    status = pair.reconcile().status
    assert status is not None and status.sync is SyncState.UNKNOWN
    assert status.message == "no desired state yet: web: path 'web' does not exist"


def test_without_a_desired_state_the_pair_waits_without_reaching_its_cluster(pair: Pair) -> None:
    # Nothing to run and no rollout holding the pair: a cluster that is down is not read (and
    # its failure is not the pair's status).
    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    try:
        outcome = pair.reconcile()
    finally:
        pair.live.sim.clear_faults()
    assert outcome.retry_in is None and outcome.status is not None
    assert outcome.status.message == "no desired state yet: waiting for the first render"
    assert (outcome.status.sync, outcome.status.failed) == (SyncState.UNKNOWN, False)


def test_an_empty_bundle_allowed_is_synced_with_nothing_to_do(pair: Pair) -> None:
    pair.desire([])
    status = pair.reconcile(fleet=pair.with_policy(allow_empty=True)).status
    assert status is not None and status.sync is SyncState.SYNCED, status
    assert status.message == "nothing to do"


def test_a_synced_status_is_dated_and_names_each_object_it_changed(pair: Pair) -> None:
    pair.desire(WEB)
    before = pair.store.now()
    status = pair.reconcile().status
    assert status is not None
    assert before <= status.at <= pair.store.now()
    assert {(c.key, c.action) for c in status.changes} == {
        ("core/Namespace/_/web", ChangeAction.CREATED),
        ("core/ConfigMap/web/settings", ChangeAction.CREATED),
    }


def test_the_redis_inventory_prunes_and_guards_an_empty_render_when_the_cluster_copy_is_gone(
    pair: Pair,
) -> None:
    # The sync merges the cluster's copy of the inventory with Redis's: with the copy deleted
    # (by hand, or a restore of the cluster without it), Redis's alone says what is tracked.
    copy = f"/api/v1/namespaces/fleetsync-system/configmaps/{mirror_name(APP)}"
    pair.desire([*WEB, config_map("old", "web")])
    first = pair.reconcile().status
    assert first is not None and first.sync is SyncState.SYNCED, first
    pair.live.operator.delete(copy)
    pair.desire(WEB, REV2)
    pruned = pair.reconcile().status
    assert pruned is not None and pruned.counts["pruned"] == 1, pruned
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/old") is None

    pair.live.operator.delete(copy)
    pair.desire([], REV1)
    refused = pair.reconcile().status
    assert refused is not None and refused.failed, refused
    assert refused.message.startswith("the bundle is empty but the last one was not (2 objects")
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is not None


def test_a_pair_no_longer_targeted_is_not_reconciled(pair: Pair) -> None:
    pair.desire(WEB)
    outcome = pair.reconcile(fleet=replace(pair.fleet, applications={}))
    assert outcome == Outcome(status=None)
    assert pair.store.recorded_status(APP, pair.cluster) is None


def test_a_health_refresh_updates_the_status_without_history(pair: Pair) -> None:
    pair.desire(WEB)
    first = pair.reconcile().status
    assert first is not None and first.health is Health.HEALTHY
    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")
    health = refresh_health(
        pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir
    )
    assert health is Health.MISSING
    after = pair.store.recorded_status(APP, pair.cluster)
    assert after is not None and after.health is Health.MISSING
    assert "core/ConfigMap/web/settings: Missing" in after.message
    assert (after.revision, after.at) == (first.revision, first.at)
    assert pair.store.history(APP, pair.cluster) == [first]


def test_removing_an_application_from_a_cluster_prunes_its_objects_and_forgets_the_pair(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    pair.reconcile()
    untargeted = pair.with_policy(prune_on_removal=True)
    app = untargeted.applications[APP]
    untargeted = replace(untargeted, applications={APP: replace(app, targets=Targets(clusters=()))})
    pair.remove(pair.fleet)
    assert pair.store.recorded_status(APP, pair.cluster) is not None, "still targeted: kept"

    pair.remove(untargeted)
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is None
    assert pair.store.recorded_status(APP, pair.cluster) is None
    assert pair.store.inventory(APP, pair.cluster) is None
    assert pair.store.history(APP, pair.cluster) == []
    assert not read_cluster_inventory(pair.live.client, APP)


def test_removal_from_a_cluster_no_longer_declared_leaves_everything_in_place(pair: Pair) -> None:
    pair.desire(WEB)
    pair.reconcile()
    pair.remove(replace(pair.fleet, clusters={}, applications={}))
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is not None
    assert pair.store.inventory(APP, pair.cluster) == Inventory.of(WEB)


def test_a_drift_without_self_heal_is_reported_not_healed(pair: Pair) -> None:
    pair.desire(WEB)
    pair.reconcile()
    pair.live.operator.merge_patch(
        "/api/v1/namespaces/web/configmaps/settings", {"data": {"mode": "green"}}
    )
    status = pair.reconcile(Trigger.DRIFT, fleet=pair.with_policy(self_heal=False)).status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC
    assert status.drifted == ("core/ConfigMap/web/settings",)
    assert "selfHeal is off" in status.message
    live = pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings")
    assert live is not None and live["data"] == {"mode": "green"}
    assert all(c.action is not ChangeAction.CONFIGURED for c in status.changes)


def test_a_drift_check_without_self_heal_reads_the_live_health(pair: Pair) -> None:
    pair.desire(WEB)
    applied = pair.reconcile().status
    assert applied is not None and applied.health is Health.HEALTHY, applied
    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")
    status = pair.reconcile(Trigger.DRIFT, fleet=pair.with_policy(self_heal=False)).status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC, status
    assert status.health is Health.MISSING, "what the cluster runs now, not the last apply's"


def test_a_change_the_freeze_holds_is_looked_at_and_continued_later(pair: Pair) -> None:
    pair.desire(WEB)
    pair.store.set_freeze(Freeze(reason="incident 3", at=pair.store.now()))
    outcome = pair.reconcile()
    status = outcome.status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC, status
    assert outcome.continue_in == WINDOW_RECHECK, "asked again once the freeze may be lifted"
    assert "not applying (the fleet is frozen since " in status.message, status.message
    assert status.health is Health.MISSING, "nothing of the bundle on the cluster yet"
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is None


def test_a_run_that_stopped_between_the_cluster_write_and_its_bookkeeping_is_repaired(
    pair: Pair,
) -> None:
    from fleetsync.shared.kube.sync import sync_application

    pair.desire([*WEB, config_map("extra", "web")])
    first = pair.reconcile().status
    assert first is not None and first.revision == REV1
    v2 = pair.desire(WEB, REV2)
    # What a run leaves when its worker dies (or Redis fails) right after writing the cluster:
    # the objects and the cluster's inventory copy at v2, Redis still at v1.
    app = pair.fleet.applications[APP]
    sync_application(
        client=pair.live.client,
        app=APP,
        bundle=v2,
        previous=pair.store.inventory(APP, pair.cluster) or Inventory(),
        policy=app.sync,
        namespace=app.namespace,
        previous_nonempty=True,
    )
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/extra") is None
    assert pair.store.inventory(APP, pair.cluster) == Inventory.of(
        [*WEB, config_map("extra", "web")]
    )

    repaired = pair.reconcile().status
    assert repaired is not None and repaired.sync is SyncState.SYNCED
    assert (repaired.revision, repaired.digest) == (REV2, v2.digest)
    assert pair.store.inventory(APP, pair.cluster) == Inventory.of(WEB)
    assert read_cluster_inventory(pair.live.client, APP) == Inventory.of(WEB)


def test_targets_are_checked_against_the_declaration(pair: Pair) -> None:
    from fleetsync.shared.reconcile import targets

    assert targets(pair.fleet, APP) == (pair.cluster,)
    assert targets(pair.fleet, APP, pair.cluster) == (pair.cluster,)
    with pytest.raises(PermanentError) as unknown:
        targets(pair.fleet, "shop")
    assert str(unknown.value) == "shop: no such application; declared applications: web"
    with pytest.raises(PermanentError) as untargeted:
        targets(pair.fleet, APP, "c9")
    assert str(untargeted.value) == (
        f"web: cluster 'c9' is not one of its targets ({pair.cluster})"
    )
    with pytest.raises(PermanentError, match="declared applications: none"):
        targets(Fleet(), "web")


def test_a_health_check_of_a_cluster_that_fails_says_so_and_stops_following(pair: Pair) -> None:
    pair.desire(WEB)
    first = pair.reconcile().status
    assert first is not None
    pair.live.handle.set_fault(error_rate=1.0, error_code=500)
    health = refresh_health(
        pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir
    )
    assert health is Health.UNKNOWN
    after = pair.store.recorded_status(APP, pair.cluster)
    assert after is not None and after.health is Health.UNKNOWN
    assert after.message.startswith("health not checked: ")
    assert (after.sync, after.revision) == (first.sync, first.revision)


def test_a_removal_from_a_cluster_that_fails_is_status_and_retried(pair: Pair) -> None:
    pair.desire(WEB)
    pair.reconcile()
    app = pair.with_policy(prune_on_removal=True).applications[APP]
    untargeted = replace(pair.fleet, applications={APP: replace(app, targets=Targets(clusters=()))})
    pair.live.handle.set_fault(error_rate=1.0, error_code=503)
    outcome = remove_pair(pair.store, untargeted, APP, pair.cluster, cache_dir=pair.live.cache_dir)
    assert outcome.retry_in is not None and outcome.status is not None
    assert outcome.status.sync is SyncState.UNKNOWN
    assert pair.store.recorded_status(APP, pair.cluster) == outcome.status
    pair.live.handle.clear_faults()
    pair.remove(untargeted)
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is None


def test_a_reconcile_binds_the_revision_it_works_on_to_its_log_lines(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    from fleetsync.shared.logcontext import ContextFilter, log_context

    pair.desire(WEB)
    pair.live.handle.set_fault(error_rate=1.0, error_code=503)
    caplog.handler.addFilter(ContextFilter())
    with log_context(application=APP, cluster=pair.cluster):
        pair.reconcile()
    [warning] = [r for r in caplog.records if r.name == "fleetsync.shared.reconcile"]
    assert warning.context == {  # type: ignore[attr-defined]
        "application": APP,
        "cluster": pair.cluster,
        "revision": str(REV1),
    }


# -- what each status says, word for word ----------------------------------------------------


def test_a_failed_reconcile_is_status_that_reads_stale_once_no_check_refreshed_it(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.desire(WEB)
    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    before = pair.store.now()
    failed = pair.reconcile().status
    assert failed is not None and failed.sync is SyncState.UNKNOWN
    assert failed.stale_after is not None
    assert stale_after(before, 300.0) <= failed.stale_after <= stale_after(pair.store.now(), 300.0)
    later = failed.stale_after + 1
    monkeypatch.setattr(pair.store, "now", lambda: later)  # a fake clock: pure reading
    seen = pair.store.status(APP, pair.cluster)
    assert seen is not None and seen.stale and seen.message.startswith("stale: last checked")


def test_a_failed_reconcile_under_live_watches_leans_on_them_like_any_status(pair: Pair) -> None:
    pair.desire(WEB)
    pair.watched()
    pair.live.sim.set_fault(error_rate=1.0, error_code=503)
    before = pair.store.now()
    failed = pair.reconcile().status
    assert failed is not None and failed.failed and failed.watched_until is not None
    assert (
        stale_after(before, 3600.0) <= failed.watched_until <= stale_after(pair.store.now(), 3600.0)
    )


def test_a_sync_that_does_several_things_says_each_with_its_count(pair: Pair) -> None:
    pair.desire(WEB)
    pair.reconcile()
    more = config_map("flags", "web", data={"on": "yes"})
    pair.desire([*WEB, more], REV2)
    status = pair.reconcile().status
    assert status is not None
    assert status.message == "1 created, 2 unchanged", status.message


def test_a_change_waits_for_what_the_application_depends_on_on_its_cluster(pair: Pair) -> None:
    db = replace(pair.fleet.applications[APP], name=AppName("db"), path="db")
    web = replace(pair.fleet.applications[APP], depends_on=(AppName("db"),))
    fleet = replace(pair.fleet, applications={APP: web, db.name: db})
    pair.desire(WEB)
    status = pair.reconcile(fleet=fleet).status
    assert status is not None
    assert f"not applying (waiting for db on {pair.cluster}: it has no desired state yet)" in (
        status.message
    )
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is None


def test_without_a_desired_state_or_source_error_the_pair_waits_for_the_first_render(
    pair: Pair,
) -> None:
    before = pair.store.now()
    status = pair.reconcile().status
    assert status is not None
    assert status.message == "no desired state yet: waiting for the first render"
    assert status.at >= before and status.stale_after is not None
    assert (status.revision, status.digest) == (None, None)


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        ("pin", f"rolled back to {REV1}"),
        ("suspend", "suspended"),
        ("manual only", "automated sync is off"),
        ("no self-heal", "selfHeal is off"),
    ],
)
def test_a_look_without_applying_says_why_it_does_not_apply(
    pair: Pair, setup: str, why: str
) -> None:
    bundle = pair.desire(WEB)
    first = pair.reconcile().status
    assert first is not None
    fleet, trigger = pair.fleet, Trigger.CHANGE
    if setup == "pin":
        pair.store.set_pin(APP, Pin(revision=REV1, digest=bundle.digest, at=1.0))
        pair.store.set_suspended(APP, True)
    elif setup == "suspend":
        pair.store.set_suspended(APP, True)
    elif setup == "manual only":
        fleet = pair.with_policy(automated=False)
    else:
        fleet, trigger = pair.with_policy(self_heal=False), Trigger.DRIFT
    status = pair.reconcile(trigger, fleet=fleet).status
    assert status is not None
    assert (status.sync, status.message) == (SyncState.SYNCED, f"in sync ({why})")
    assert (status.revision, status.digest) == (REV1, first.digest)
    assert status.stale_after is not None and status.trigger is trigger
    pair.desire([namespace("web"), config_map("settings", "web", data={"mode": "red"})], REV2)
    pair.live.operator.delete("/api/v1/namespaces/web/configmaps/settings")
    behind = pair.reconcile(trigger, fleet=fleet).status
    assert behind is not None and behind.sync is SyncState.OUT_OF_SYNC
    assert behind.message == (
        f"{REV2} not applied yet; 1 object drifted; "
        f"not applying ({why}); `fleetsync sync web` applies it"
    )
    assert behind.drifted == ("core/ConfigMap/web/settings",)


def test_a_look_at_a_pair_with_per_cluster_variants_compares_it_with_its_own_bundle(
    pair: Pair,
) -> None:
    own = pair.store.put_bundle(Bundle.of(WEB))
    first = DesiredState(REV1, Digest("set-1"), "plain", rendered_at=1.0, variants=1)
    pair.store.set_desired_variants(APP, first, {pair.cluster: own})
    applied = pair.reconcile().status
    assert applied is not None and applied.digest == own
    pair.store.set_suspended(APP, True)
    red = [namespace("web"), config_map("settings", "web", data={"mode": "red"})]
    moved = pair.store.put_bundle(Bundle.of(red))
    second = DesiredState(REV2, Digest("set-2"), "plain", rendered_at=2.0, variants=1)
    pair.store.set_desired_variants(APP, second, {pair.cluster: moved})

    behind = pair.reconcile().status

    assert behind is not None and behind.sync is SyncState.OUT_OF_SYNC
    assert (behind.revision, behind.digest) == (REV1, own)
    assert behind.message == (
        f"{REV2} not applied yet; not applying (suspended); `fleetsync sync web` applies it"
    )
    pair.store.set_desired_variants(APP, second, {pair.cluster: own})
    assert pair.reconcile().status == replace(
        behind, message="in sync (suspended)", sync=SyncState.SYNCED, at=ANY, stale_after=ANY
    ), "Git moved on elsewhere, this cluster's own bundle did not"


def test_a_look_after_redis_lost_the_pair_shows_what_the_cluster_runs_as_in_sync(
    pair: Pair,
) -> None:
    bundle = pair.desire(WEB)
    applied = pair.reconcile().status
    assert applied is not None
    pair.store.forget_pair(APP, pair.cluster)  # Redis lost the pair's status and inventory
    pair.store.set_suspended(APP, True)

    looked = pair.reconcile().status

    assert looked is not None
    assert (looked.sync, looked.message) == (SyncState.SYNCED, "in sync (suspended)")
    assert (looked.revision, looked.digest, looked.health) == (REV1, bundle.digest, Health.HEALTHY)


def test_a_look_at_a_pair_never_applied_shows_it_behind_with_nothing_applied(pair: Pair) -> None:
    pair.desire(WEB)
    pair.store.set_suspended(APP, True)
    status = pair.reconcile().status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC
    assert (status.revision, status.digest) == (None, None)
    assert status.message.startswith(f"{REV1} not applied yet; ")


def test_a_bundle_missing_from_redis_is_a_permanent_error_kept_until_the_next_trigger(
    pair: Pair,
) -> None:
    applied = pair.desire(WEB)
    first = pair.reconcile().status
    assert first is not None
    missing = DesiredState(REV2, Digest("f" * 64), "plain", rendered_at=2.0)
    pair.store.set_desired(APP, missing)
    outcome = pair.reconcile()
    assert outcome.retry_in is None, "the same input fails the same way: no retry"
    status = outcome.status
    assert status is not None and status.sync is SyncState.OUT_OF_SYNC
    assert status.message == (
        f"web: bundle ffffffffffff for {REV2} is missing from Redis; "
        "run `fleetsync refresh` on its repository to render it again"
    )
    assert (status.revision, status.digest) == (REV1, applied.digest), "what it still runs"


def test_a_pinned_rollout_s_bundle_missing_says_so_and_how_to_go_on(pair: Pair) -> None:
    # The pinned rollout read back after a loss of Redis's data, its bundle in no cluster's
    # mirror: `fleetsync refresh` would not bring it back (Git's latest waits for the pin).
    missing = Digest("f" * 64)
    pair.store.set_desired(APP, DesiredState(REV2, missing, "plain", rendered_at=2.0))
    plan = RolloutPlan.from_json({"waves": [{"name": "all", "clusters": [pair.cluster]}]})
    pinned = Rollout(
        id="r1",
        application=APP,
        revision=REV2,
        digest=missing,
        started_at=1.0,
        waves=1,
        phase=Phase.BAKING,
        pinned=Pinned(reason="watching it", at=1.0),
    )
    pair.store.start_rollout(pinned, plan, {}, {})
    outcome = pair.reconcile()
    assert outcome.retry_in is None and outcome.status is not None
    assert (outcome.status.sync, outcome.status.failed) == (SyncState.OUT_OF_SYNC, True)
    assert outcome.status.message == (
        f"web: bundle ffffffffffff for {REV2} is missing from Redis; it is the pinned rollout's, "
        "read back after Redis lost its data, and no cluster's mirror held it: the cluster is "
        "left as it is; `fleetsync rollout unpin` rolls Git's latest out from wave 1"
    )


def _two_waves(cluster: ClusterName) -> RolloutPlan:
    """A rollout plan whose second wave is `cluster`, the first another cluster."""
    waves = [{"name": "canary", "clusters": ["c0"]}, {"name": "rest", "clusters": [cluster]}]
    return RolloutPlan.from_json({"waves": waves})


def test_a_cluster_a_rollout_has_not_reached_that_ran_nothing_before_waits_for_it(
    pair: Pair,
) -> None:
    pair.desire(WEB, revision=REV2)
    plan = _two_waves(pair.cluster)
    rollout = Rollout(
        id="r1",
        application=APP,
        revision=REV2,
        digest=Bundle.of(WEB).digest,
        started_at=1.0,
        waves=2,
        phase=Phase.BAKING,
    )
    pair.store.start_rollout(rollout, plan, {pair.cluster: None}, {})
    status = pair.reconcile().status
    assert status is not None and (status.sync, status.failed) == (SyncState.UNKNOWN, False)
    assert status.message == (
        f"nothing to run yet: the rollout of {REV2.short} has not reached this cluster yet"
    )
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is None


def test_a_rollout_too_big_for_the_cluster_s_mirror_is_said_in_the_status(pair: Pair) -> None:
    bundle = pair.desire(WEB, revision=REV2)
    plan = RolloutPlan.from_json({"waves": [{"name": "all", "clusters": [pair.cluster]}]})
    rollout = Rollout(
        id="r1",
        application=APP,
        revision=REV2,
        digest=bundle.digest,
        started_at=1.0,
        waves=1,
        phase=Phase.BAKING,
        reason=os.urandom(300_000).hex(),  # about 0.3 MiB once compressed
    )
    reached = {pair.cluster: ClusterProgress(released_at=1.0)}
    pair.store.start_rollout(rollout, plan, {pair.cluster: None}, reached)
    status = pair.reconcile().status
    assert status is not None and status.sync is SyncState.SYNCED, status
    assert status.message.startswith("2 created; the rollout ("), status.message
    assert status.message.endswith("is over the 256 KiB the cluster's mirror keeps"), status.message


def test_a_look_at_a_cluster_a_rollout_holds_compares_it_with_what_it_is_held_at(
    pair: Pair,
) -> None:
    first = pair.desire(WEB)
    assert pair.reconcile().status is not None
    second = pair.desire([namespace("web"), config_map("settings", "web", data={"m": "2"})], REV2)
    plan = _two_waves(pair.cluster)
    rollout = Rollout(
        id="r1",
        application=APP,
        revision=REV2,
        digest=second.digest,
        started_at=1.0,
        waves=2,
        phase=Phase.BAKING,
    )
    pair.store.start_rollout(rollout, plan, {pair.cluster: Held(REV1, first.digest)}, {})
    status = pair.reconcile(Trigger.DRIFT, fleet=pair.with_policy(self_heal=False)).status
    assert status is not None and status.sync is SyncState.SYNCED, status
    assert status.message == "in sync (selfHeal is off)", "not behind Git: held where it is"
    assert (status.revision, status.digest) == (REV1, first.digest)


def test_a_retry_after_longer_than_the_backoff_is_honoured(pair: Pair) -> None:
    from fleetsync.shared.errors import TransientError
    from fleetsync.shared.reconcile import _failed

    outcome = _failed(
        pair.store, APP, pair.cluster, None, Trigger.CHANGE, TransientError("busy", delay=60.0)
    )
    assert outcome.retry_in is not None and 48.0 <= outcome.retry_in <= 72.0
    assert outcome.status is not None and outcome.status.message == "busy"


def test_a_health_refresh_names_at_most_three_unhealthy_objects_with_their_reasons(
    pair: Pair,
) -> None:
    objects = [namespace("web"), *(config_map(f"c{i}", "web") for i in range(4))]
    pair.desire(objects)
    first = pair.reconcile().status
    assert first is not None
    assert (
        refresh_health(pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir)
        is Health.HEALTHY
    )
    healthy = pair.store.recorded_status(APP, pair.cluster)
    assert healthy is not None and healthy.message == first.message
    for i in range(4):
        pair.live.operator.delete(f"/api/v1/namespaces/web/configmaps/c{i}")
    refresh_health(pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir)
    after = pair.store.recorded_status(APP, pair.cluster)
    assert after is not None
    assert after.message == "; ".join(
        [
            *(f"core/ConfigMap/web/c{i}: Missing (not found in the cluster)" for i in range(3)),
            "1 more not healthy",
        ]
    )
    assert pair.store.history(APP, pair.cluster) == [first]


def test_a_health_refresh_places_objects_in_the_application_namespace(pair: Pair) -> None:
    nameless = config_map("settings", None)
    pair.desire([namespace("web"), nameless])
    assert pair.reconcile().status is not None
    assert (
        refresh_health(pair.store, pair.fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir)
        is Health.HEALTHY
    )


def test_a_health_refresh_has_nothing_to_assess_without_an_applied_bundle(pair: Pair) -> None:
    refresh = lambda fleet: refresh_health(  # noqa: E731
        pair.store, fleet, APP, pair.cluster, cache_dir=pair.live.cache_dir
    )
    assert refresh(pair.fleet) is None, "never reconciled"
    pair.reconcile()  # waiting: a status without a digest
    assert refresh(pair.fleet) is None
    pair.desire(WEB)
    pair.reconcile()
    assert refresh(replace(pair.fleet, applications={})) is None, "no longer declared"


def test_targets_errors_list_every_declared_name(pair: Pair) -> None:
    from fleetsync.shared.reconcile import targets

    other = AppName("api")
    two = replace(
        pair.fleet,
        applications={
            **pair.fleet.applications,
            other: replace(pair.fleet.applications[APP], name=other),
        },
        clusters={
            **pair.fleet.clusters,
            ClusterName("c2"): replace(pair.live.cluster, name=ClusterName("c2")),
        },
    )
    with pytest.raises(PermanentError) as unknown:
        targets(two, "shop")
    assert str(unknown.value) == "shop: no such application; declared applications: api, web"
    both = replace(
        two,
        applications={
            APP: replace(
                two.applications[APP], targets=Targets(clusters=(pair.cluster, ClusterName("c2")))
            )
        },
    )
    with pytest.raises(PermanentError) as untargeted:
        targets(both, APP, "c9")
    assert str(untargeted.value) == (
        f"web: cluster 'c9' is not one of its targets ({', '.join(sorted([pair.cluster, 'c2']))})"
    )


def test_a_failed_removal_keeps_what_the_pair_ran_in_its_status(pair: Pair) -> None:
    applied = pair.desire(WEB)
    pair.reconcile()
    app = pair.with_policy(prune_on_removal=True).applications[APP]
    untargeted = replace(pair.fleet, applications={APP: replace(app, targets=Targets(clusters=()))})
    pair.live.handle.set_fault(error_rate=1.0, error_code=500)
    outcome = remove_pair(pair.store, untargeted, APP, pair.cluster, cache_dir=pair.live.cache_dir)
    assert outcome.status is not None
    assert (outcome.status.revision, outcome.status.digest) == (REV1, applied.digest)
    assert outcome.status.message.startswith(f"cluster {pair.cluster}: ")


# -- a wiped cluster ---------------------------------------------------------------------------


def _wipe(pair: Pair) -> None:
    """Delete everything fleetsync put on the cluster, its fleetsync-system namespace too."""
    for ns in ("web", "fleetsync-system"):
        pair.live.operator.delete(f"/api/v1/namespaces/{ns}")
    for ns in ("web", "fleetsync-system"):
        wait_for(
            lambda n=ns: pair.live.operator.get(f"/api/v1/namespaces/{n}") is None,  # type: ignore[misc]
            what=f"namespace {ns} gone",
        )
    forget_verified()  # what a later reconcile sees once the claim's memo lapsed


def test_a_wiped_cluster_is_reapplied_by_its_next_drift_check_with_its_mirrors(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    assert pair.reconcile().status is not None
    _wipe(pair)
    healed = pair.reconcile(Trigger.DRIFT).status
    assert healed is not None and healed.sync is SyncState.SYNCED, healed
    assert healed.counts["created"] == 2, healed
    assert pair.live.operator.get("/api/v1/namespaces/web/configmaps/settings") is not None
    assert read_cluster_inventory(pair.live.client, APP) == Inventory.of(WEB)
    claim = pair.live.operator.get(f"/api/v1/namespaces/fleetsync-system/configmaps/{CLAIM_NAME}")
    assert claim is not None and claim["data"]["cluster"] == pair.cluster


def test_a_wiped_cluster_of_a_suspended_application_is_reported_and_its_intents_mirrored_again(
    pair: Pair,
) -> None:
    pair.desire(WEB)
    assert pair.reconcile().status is not None
    pair.store.set_suspended(APP, True)
    pair.reconcile(Trigger.DRIFT)
    mirror = f"/api/v1/namespaces/fleetsync-system/secrets/{intents_name(APP)}"
    assert pair.live.operator.get(mirror) is not None
    _wipe(pair)
    seen = pair.reconcile(Trigger.DRIFT).status
    assert seen is not None and seen.sync is SyncState.OUT_OF_SYNC, seen
    assert "2 objects drifted" in seen.message and "suspended" in seen.message, seen.message
    assert pair.live.operator.get("/api/v1/namespaces/web") is None, "suspended: nothing applied"
    assert pair.live.operator.get(mirror) is not None, "the suspension is mirrored again"


def test_the_intents_mirror_is_read_once_on_a_new_or_wiped_cluster_then_not_again(
    pair: Pair,
) -> None:
    sim = pair.live.sim
    read = ("get", "secrets")
    pair.desire(WEB)
    sim.reset_request_counts()
    assert pair.reconcile().status is not None  # a new cluster: claimed, its mirror looked for
    assert sim.request_counts().get(read, 0) == 1
    sim.reset_request_counts()
    pair.desire([namespace("web"), config_map("settings", "web", data={"mode": "green"})], REV2)
    changed = pair.reconcile().status
    checked = pair.reconcile(Trigger.DRIFT).status
    assert changed is not None and changed.sync is SyncState.SYNCED, changed
    assert checked is not None and checked.sync is SyncState.SYNCED, checked
    assert sim.request_counts().get(read, 0) == 0, "the mirror is known current: not read"
    _wipe(pair)
    sim.reset_request_counts()
    healed = pair.reconcile(Trigger.DRIFT).status
    assert healed is not None and healed.sync is SyncState.SYNCED, healed
    assert sim.request_counts().get(read, 0) == 1, "a wiped cluster's mirror is looked for"
    sim.reset_request_counts()
    pair.reconcile(Trigger.DRIFT)
    assert sim.request_counts().get(read, 0) == 0
