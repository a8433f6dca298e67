"""A reconcile of one application on kubesim and on a real API server, with a real Redis: what
its status says when an object is refused, when quantities are respelled, while sync waves wait,
and after a follow-up health check."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from fleetsync.shared.kube.hooks import HOOK_LABEL, hook_id, split_hooks
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, mirror_name
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Fleet, SyncPolicy, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.hooks import HookPhase
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.reconcile import Outcome, reconcile_pair, refresh_health, remove_pair
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Trigger
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.hookjobs import finish_job, hold_jobs, hook_job, hook_jobs
from tests.integration.kube.manifests import WAVE, config_map, deployment, namespace

REV1 = Revision(ref="main", sha="a" * 40)
REV2 = Revision(ref="main", sha="b" * 40)


@dataclass
class Pair:
    """One (application, cluster) pair, its declaration and desired state in a real Redis."""

    live: Live
    store: Store
    fleet: Fleet

    @property
    def app(self) -> AppName:
        return AppName(self.live.app)

    @property
    def cluster(self) -> ClusterName:
        return ClusterName(self.live.cluster.name)

    def want(self, objects: list[dict[str, Any]], revision: Revision = REV1) -> None:
        digest = self.store.put_bundle(Bundle.of(objects))
        state = DesiredState(revision=revision, digest=digest, renderer="plain", rendered_at=0.0)
        self.store.set_desired(self.app, state)

    def declare(self, **sync: Any) -> None:
        application = self.fleet.applications[self.app]
        policy = replace(application.sync, **sync)
        self.fleet = replace(self.fleet, applications={self.app: replace(application, sync=policy)})

    def reconcile(self, trigger: Trigger = Trigger.CHANGE) -> Outcome:
        return reconcile_pair(
            self.store,
            self.fleet,
            self.app,
            self.cluster,
            trigger=trigger,
            cache_dir=self.live.cache_dir,
        )

    def refresh_health(self) -> Health | None:
        return refresh_health(
            self.store, self.fleet, self.app, self.cluster, cache_dir=self.live.cache_dir
        )


@pytest.fixture
def pair(live: Live, redis_url: str) -> Iterator[Pair]:
    store = Store.connect(redis_url)
    app = AppName(live.app)
    fleet = Fleet(
        clusters={live.cluster.name: live.cluster},
        applications={
            app: Application(
                name=app,
                repository=RepoName("platform"),
                path="apps/web",
                namespace=live.ns,
                targets=Targets(clusters=(ClusterName(live.cluster.name),)),
                sync=SyncPolicy(),
            )
        },
    )
    yield Pair(live=live, store=store, fleet=fleet)


def test_an_object_the_server_cannot_type_is_out_of_sync_with_its_name_never_an_outage(
    pair: Pair,
) -> None:
    """The server refuses a string where an integer belongs with a 500 "failed to create typed
    patch object"; the pair is OutOfSync naming the object, not Unknown and retried as an
    outage."""
    ns = pair.live.ns
    broken = deployment("api", ns)
    broken["spec"]["replicas"] = "two"
    pair.want([namespace(ns), config_map("settings", ns), broken])

    outcome = pair.reconcile()

    status = outcome.status
    assert status is not None
    assert (status.sync, outcome.retry_in) == (SyncState.OUT_OF_SYNC, None)
    assert status.error_object == f"apps/Deployment/{ns}/api" and status.failed
    assert "failed to create typed patch object" in status.message
    assert ".spec.replicas: expected numeric (int or float), got string" in status.message
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings") is None


def test_a_sync_error_stays_in_the_status_through_a_follow_up_health_check(pair: Pair) -> None:
    ns = pair.live.ns
    edge = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "edge", "namespace": ns},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }
    pair.want([namespace(ns), edge])
    first = pair.reconcile()
    assert first.status is not None and first.status.health is Health.PROGRESSING
    assert first.follow_health
    pair.want([namespace(ns), edge, config_map("Not_Valid", ns)], revision=REV2)

    failed = pair.reconcile()

    assert failed.status is not None and failed.status.sync is SyncState.OUT_OF_SYNC
    assert failed.status.error_object == f"core/ConfigMap/{ns}/Not_Valid"
    assert pair.refresh_health() is Health.MISSING, "the refused ConfigMap was never created"
    after = pair.store.status(pair.app, pair.cluster)
    assert after is not None
    assert after.message == failed.status.message, "the error is not replaced by a health message"
    assert after.failed, "and the sync still counts as failed"
    assert "Not_Valid" in after.message and after.health is Health.MISSING


def test_a_respelled_quantity_syncs_once_then_is_neither_drift_nor_written_again(
    pair: Pair,
) -> None:
    ns = pair.live.ns
    pair.want([namespace(ns), deployment("api", ns, cpu="2000m")])
    first = pair.reconcile()
    assert first.status is not None and first.status.sync is SyncState.SYNCED, first.status
    pair.declare(self_heal=False)

    looked = pair.reconcile(Trigger.DRIFT)

    assert looked.status is not None
    assert (looked.status.sync, looked.status.drifted) == (SyncState.SYNCED, ())
    pair.declare(self_heal=True)
    pair.live.calls.clear()

    healed = pair.reconcile(Trigger.DRIFT)

    assert healed.status is not None and healed.status.sync is SyncState.SYNCED
    assert {c.action for c in healed.status.changes} == {ChangeAction.UNCHANGED}
    assert pair.live.engine_writes() == [], "not re-applied, not even dry-run"


def test_a_wave_waiting_for_health_asks_to_be_continued_and_says_what_it_waits_for(
    pair: Pair,
) -> None:
    ns = pair.live.ns
    edge = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "edge", "namespace": ns, "annotations": {WAVE: "0"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }
    pair.want([namespace(ns), edge, config_map("after-edge", ns, wave=1)])

    outcome = pair.reconcile()

    assert outcome.status is not None
    assert outcome.continue_in is not None and 0 < outcome.continue_in <= 15
    assert (outcome.retry_in, outcome.follow_health) == (None, False)
    assert outcome.status.sync is SyncState.OUT_OF_SYNC
    assert outcome.status.message.startswith(
        f"waiting for wave 1: core/Service/{ns}/edge: Progressing "
        "(waiting for a load balancer address)"
    )
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/after-edge") is None


def test_a_hook_s_outcome_and_logs_pointer_are_in_the_status_and_history(pair: Pair) -> None:
    ns = pair.live.ns
    hold_jobs(pair.live)
    pair.want([namespace(ns), config_map("ui", ns), hook_job("migrate", ns, "PreSync")])

    waiting = pair.reconcile()

    assert waiting.status is not None and waiting.continue_in is not None
    (hook,) = waiting.status.hooks
    assert (hook.phase, hook.state) == ("PreSync", "Running")
    assert hook.logs == f"kubectl logs job/{hook.name} -n {ns}"
    assert waiting.status.message.startswith(
        f"waiting for PreSync hooks: batch/Job/{ns}/{hook.name} running"
    )
    finish_job(pair.live, hook.name, succeeded=False)

    failed = pair.reconcile()

    assert failed.status is not None and failed.continue_in is None
    assert failed.status.sync is SyncState.OUT_OF_SYNC
    assert failed.status.error_object == f"batch/Job/{ns}/{hook.name}"
    assert failed.status.message.startswith(
        f"batch/Job/{ns}/{hook.name}: PreSync hook failed (Job has reached the specified "
        f"backoff limit; kubectl logs job/{hook.name} -n {ns}): sync failed"
    )
    history = pair.store.history(pair.app, pair.cluster)
    assert [h.hooks[0].state for h in history[:2]] == ["Failed", "Running"]
    assert [h.hooks[0].message for h in history[:2]] == [
        "Job has reached the specified backoff limit",
        "job is running",
    ], "each hook's own message is kept beside its state"


def test_a_failed_hook_runs_again_on_a_manual_sync_only(pair: Pair) -> None:
    ns = pair.live.ns
    hold_jobs(pair.live)
    pair.want([namespace(ns), config_map("ui", ns), hook_job("migrate", ns, "PreSync")])
    waiting = pair.reconcile()
    assert waiting.status is not None
    (hook,) = waiting.status.hooks
    finish_job(pair.live, hook.name, succeeded=False)
    assert pair.reconcile().status.hooks[0].state == "Failed"  # type: ignore[union-attr]

    again = pair.reconcile(Trigger.DRIFT).status
    assert again is not None and again.hooks[0].state == "Failed"
    assert [j["metadata"]["name"] for j in hook_jobs(pair.live)] == [hook.name], "not rerun"

    manual = pair.reconcile(Trigger.MANUAL).status
    assert manual is not None and manual.hooks[0].state == "Running"
    assert len(hook_jobs(pair.live)) == 1 and manual.hooks[0].name != hook.name, "a new run"


def test_a_degraded_or_progressing_pair_names_the_object_not_only_counts(pair: Pair) -> None:
    ns = pair.live.ns
    if pair.live.simulated:
        pair.live.sim.set_controllers(never_ready=True)  # a real server has no kubelet either
    pair.want([namespace(ns), config_map("settings", ns), deployment("api", ns, replicas=3)])

    outcome = pair.reconcile()

    assert outcome.status is not None and outcome.status.health is Health.PROGRESSING
    assert outcome.status.message.startswith("3 created; ")
    assert f"apps/Deployment/{ns}/api: Progressing (" in outcome.status.message


def test_a_claim_waiting_for_its_first_consumer_is_healthy(pair: Pair) -> None:
    """No Pod will ever use it on these clusters: a WaitForFirstConsumer claim stays Pending,
    and that is its healthy state."""
    ns = pair.live.ns
    if pair.live.simulated:
        pair.live.sim.set_controllers(never_ready=True)  # kubesim would bind it
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": pair.live.unique("local")},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": ns},
        "spec": {
            "storageClassName": pair.live.unique("local"),
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    pair.want([namespace(ns), storage_class, claim])

    outcome = pair.reconcile()

    assert outcome.status is not None
    assert (outcome.status.sync, outcome.status.health) == (SyncState.SYNCED, Health.HEALTHY)
    live_claim = pair.live.operator.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data")
    assert live_claim is not None and live_claim["status"].get("phase", "Pending") == "Pending"


def test_post_delete_hooks_run_after_an_application_removed_with_prune_on_removal(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fleetsync.shared.reconcile")
    ns = pair.live.ns
    pair.declare(create_namespace=True, prune_on_removal=True)
    pair.want([config_map("settings", ns), hook_job("cleanup", ns, "PostDelete")])
    first = pair.reconcile()
    assert first.status is not None and first.status.sync is SyncState.SYNCED, first.status
    assert hook_jobs(pair.live) == [], "a PostDelete hook is not run by a sync"
    removed = replace(pair.fleet, applications={})

    assert remove_pair(
        pair.store, removed, pair.app, pair.cluster, cache_dir=pair.live.cache_dir
    ) == Outcome(status=None)

    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings") is None
    (cleanup,) = hook_jobs(pair.live)
    assert cleanup["metadata"]["name"].startswith("cleanup-")
    (spec,) = split_hooks([hook_job("cleanup", ns, "PostDelete")], app=pair.app)[1]
    assert spec.ident == hook_id(pair.app, HookPhase.POST_DELETE, spec.key)
    assert cleanup["metadata"]["labels"][HOOK_LABEL] == spec.ident, "the application's hook"
    assert pair.store.status(pair.app, pair.cluster) is None
    (removed_line,) = [r.getMessage() for r in caplog.records if "removed (" in r.getMessage()]
    hook = f"batch/Job/{ns}/{cleanup['metadata']['name']}"
    assert f"removed (1 pruned); PostDelete hook {hook} running" in removed_line, removed_line


@kubesim_only
def test_a_removal_whose_deletes_the_cluster_refuses_stays_the_pair_s_status(pair: Pair) -> None:
    # The pair is not forgotten while its objects are there: what is left stays tracked and the
    # refusal is its status, for the next removal to try again.
    ns = pair.live.ns
    pair.declare(create_namespace=True, prune_on_removal=True)
    pair.want([config_map("settings", ns)])
    first = pair.reconcile()
    assert first.status is not None and first.status.sync is SyncState.SYNCED, first.status
    removed = replace(pair.fleet, applications={})
    pair.live.sim.forbid_deletes("configmaps", [ns])
    try:
        outcome = remove_pair(
            pair.store, removed, pair.app, pair.cluster, cache_dir=pair.live.cache_dir
        )
    finally:
        pair.live.sim.clear_faults()

    status = outcome.status
    assert status is not None and status.failed
    assert status.error_object == f"core/ConfigMap/{ns}/settings"
    assert status.message.startswith(f"core/ConfigMap/{ns}/settings: prune failed: ")
    assert 'cannot delete resource "configmaps"' in status.message
    assert status.duration > 0, "the removal's sync is timed like any other"
    assert pair.store.status(pair.app, pair.cluster) == status
    inventory = pair.store.inventory(pair.app, pair.cluster)
    assert (
        inventory is not None and pair.live.key(f"core/ConfigMap/{ns}/settings") in inventory.keys
    )
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings") is not None


def test_what_redis_tracks_is_pruned_when_the_cluster_s_own_copy_is_gone(pair: Pair) -> None:
    # The two inventories back each other up: with the cluster's copy deleted by hand, the one
    # Redis keeps still names what the application applied.
    ns = pair.live.ns
    pair.declare(create_namespace=True)
    pair.want([config_map("a", ns), config_map("b", ns)])
    assert pair.reconcile().status is not None
    copy = f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name(pair.app)}"
    assert pair.live.operator.get(copy) is not None
    pair.live.operator.delete(copy)
    pair.want([config_map("a", ns)], revision=REV2)

    outcome = pair.reconcile()

    assert outcome.status is not None and outcome.status.sync is SyncState.SYNCED, outcome.status
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/b") is None
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/a") is not None


def test_a_render_that_turns_empty_deletes_nothing(pair: Pair) -> None:
    ns = pair.live.ns
    pair.declare(create_namespace=True)
    pair.want([config_map("a", ns)])
    assert pair.reconcile().status is not None
    # Redis still knows the application applied something, with the cluster's copy gone too.
    copy = f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name(pair.app)}"
    assert pair.live.operator.get(copy) is not None
    pair.live.operator.delete(copy)
    pair.want([], revision=REV2)

    outcome = pair.reconcile()

    assert outcome.status is not None and outcome.status.failed, outcome.status
    assert pair.live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/a") is not None
