"""Many applications changed on one cluster converge in one task per cluster: each pair under
its own lease, with its own status and history as a reconcile of its own would record them, the
cluster's reads shared (one LIST per kind for all of them).

Real parts: a redis-server, a Celery worker (threads) running fleetsync's tasks, kubesim
clusters over HTTP (its request counters, its faults).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import pair_lock
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender
from fleetsync.workers.app import app
from kubesim import ClusterHandle, Simulator
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

REV1 = Revision(ref="main", sha="1" * 40)
REV2 = Revision(ref="main", sha="2" * 40)
APPS = [AppName(f"app-{i}") for i in range(5)]


@pytest.fixture
def handle(kubesim: Simulator, tmp_path: Path) -> Iterator[ClusterHandle]:
    found = kubesim.add_cluster(f"batch-{tmp_path.name[-6:]}".lower().replace("_", "-"))
    yield found
    found.clear_faults()
    kubesim.remove_cluster(found.name)


def _setup(redis_url: str, kubesim: Simulator, handle: ClusterHandle) -> tuple[Store, Cluster]:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    store = Store.connect(redis_url)
    fleet = Fleet(
        clusters={cluster.name: cluster},
        applications={
            a: Application(
                name=a,
                repository=RepoName("platform"),
                path=a,
                namespace="default",
                targets=Targets(clusters=(cluster.name,)),
            )
            for a in APPS
        },
    )
    store.publish_fleet(fleet, "d1")
    return store, cluster


def _desire(store: Store, revision: Revision, value: str) -> None:
    for a in APPS:
        bundle = Bundle.of([config_map(f"{a}-settings", "default", data={"v": value})])
        store.set_desired(a, DesiredState(revision, store.put_bundle(bundle), "plain", 1.0))


def test_one_task_converges_every_application_of_a_cluster_each_with_its_own_status(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    sender = Sender(app, store)
    _desire(store, REV1, "1")
    with running_worker(("apply",), concurrency=2):
        for a in APPS:  # the first sync: one task per pair, as today
            sender.reconcile(a, cluster.name, reason=Trigger.CHANGE)
        wait_for(lambda: store.stats().get("reconcile_synced", 0) == len(APPS), timeout=60)
    _desire(store, REV2, "2")
    handle.reset_request_counts()
    with ExitStack() as lease:
        held = lease.enter_context(store.lease(pair_lock(APPS[0], cluster.name)))
        assert held is not None
        asked = sender.reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        assert asked == APPS
        # No worker runs yet, so none has taken the batch (and its marks) before this trigger.
        assert not sender.reconcile(APPS[1], cluster.name, reason=Trigger.CHANGE), (
            "a trigger of a pair the batch carries coalesces into it"
        )
        with running_worker(("apply",), concurrency=2):
            wait_for(
                lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1,
                timeout=60,
                what="the batch",
            )
            counts = handle.request_counts()
            lease.close()
            wait_for(
                lambda: all(
                    (s := store.recorded_status(a, cluster.name)) is not None and s.revision == REV2
                    for a in APPS
                ),
                timeout=60,
                what="the pair whose lease was held, queued again by itself",
            )
    for a in APPS:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, a
        assert status.trigger is Trigger.CHANGE and status.counts.get("configured") == 1, a
        history = store.history(a, cluster.name)
        assert [h.revision for h in history] == [REV2, REV1], a
        inventory = store.inventory(a, cluster.name)
        assert inventory is not None and len(inventory) == 1, a
        assert not store.lease_holder(pair_lock(a, cluster.name)), a
    # The batch's writes merged (one MSET, one SADD per set, one release script): every pair
    # moved in the revision index and has its cell.
    assert {s.application for s in store.pairs_at_revision(str(REV2))} == set(APPS)
    assert store.pairs_at_revision(str(REV1)) == []
    assert all(cluster.name in cells for cells in store.cells(APPS).values())
    assert store.stats()["reconcile_synced"] == 2 * len(APPS)
    assert counts[("list", "configmaps")] == 2, (
        "one LIST of the applications' ConfigMaps for the four pairs the batch held, and one of "
        "the inventory copies"
    )
    assert counts[("apply", "configmaps")] == len(APPS) - 1
    assert counts.get(("get", "secrets"), 0) == 0, (
        "the intents' mirrors, current since the first sync, are not read again"
    )
    assert store.running_tasks() == []


def test_a_cluster_that_refuses_the_first_pair_fails_the_rest_without_asking_again(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    handle.set_fault(unauthorized=True)
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)
    statuses = [store.recorded_status(a, cluster.name) for a in APPS]
    assert all(s is not None and s.sync is SyncState.OUT_OF_SYNC for s in statuses)
    messages = {s.message for s in statuses if s is not None}
    assert len(messages) == 1 and f"cluster {cluster.name}: credentials refused" in messages.pop()
    refused = sum(n for (verb, _), n in handle.request_counts().items())
    # The batch's shared reads, then the first pair's first round (the claim's two reads sent
    # together, kube/read_ahead.py, and discovery to place its objects).
    assert refused <= 4, f"one pair met the refusal, the others were not tried ({refused})"


def test_a_delete_rbac_forbids_fails_its_pair_only_and_says_what_to_grant(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    # The first pair's PreSync hook succeeds and is to be deleted (HookSucceeded); the cluster's
    # RBAC forbids deleting ConfigMaps. That is the pair's failure, not the cluster's
    # credentials: the pairs after it in the batch are still reconciled.
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    first = APPS[0]
    hook = config_map(f"{first}-ready", "default")
    hook["metadata"]["annotations"] = {
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
    }
    bundle = Bundle.of([config_map(f"{first}-settings", "default", data={"v": "1"}), hook])
    store.set_desired(first, DesiredState(REV1, store.put_bundle(bundle), "plain", 1.0))
    handle.forbid_deletes("configmaps", namespaces=["default"])
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)

    refused = store.recorded_status(first, cluster.name)
    assert refused is not None and refused.failed and refused.sync is SyncState.OUT_OF_SYNC
    assert refused.message.startswith(
        f"the delete of core/ConfigMap/default/{first}-ready was forbidden (RBAC: "
    ), refused.message
    assert refused.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "delete" verb on configmaps: '
        "grant it"
    ), refused.message
    for a in APPS[1:]:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, (a, status)


def test_a_batch_logs_one_line_at_info_and_each_synced_pair_at_debug(
    redis_url: str,
    tmp_path: Path,
    kubesim: Simulator,
    handle: ClusterHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    caplog.set_level(logging.DEBUG, logger="fleetsync.workers.apply")
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)

    lines = [r for r in caplog.records if r.name == "fleetsync.workers.apply"]
    at_info = [r.getMessage() for r in lines if r.levelno >= logging.INFO]
    assert at_info == ["reconcile of 5 applications (new desired state): 5 synced"]
    pairs = [r.getMessage() for r in lines if r.levelno == logging.DEBUG]
    assert len(pairs) == len(APPS)
    assert all(m.startswith("reconcile (new desired state): Synced, ") for m in pairs), pairs


def test_a_pair_whose_mark_took_a_stronger_reason_leaves_the_batch_for_a_reconcile_of_its_own(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    sender = Sender(app, store)
    _desire(store, REV1, "1")
    checked, changed = APPS[:2]
    asked = sender.reconcile_on_cluster(
        cluster.name, [checked, changed], reason=Trigger.DRIFT, priority=Priority.CHANGE
    )
    assert asked == [checked, changed]
    assert not sender.reconcile(
        changed, cluster.name, reason=Trigger.CHANGE, priority=Priority.PERIODIC
    ), "absorbed by the queued batch, its reason with it"
    with running_worker(("apply",), concurrency=2):
        wait_for(
            lambda: all(store.recorded_status(a, cluster.name) for a in (checked, changed)),
            timeout=60,
            what="both pairs reconciled",
        )
    triggers = {}
    for a in (checked, changed):
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, a
        triggers[a] = status.trigger
        assert not store.lease_holder(pair_lock(a, cluster.name)), a
    assert triggers == {checked: Trigger.DRIFT, changed: Trigger.CHANGE}
    assert store.stats()["reconcile_synced"] == 2, "each pair once"
