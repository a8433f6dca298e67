"""Many applications changed on one cluster converge in one task per cluster: each pair under
its own lease, with its own status and history as a reconcile of its own would record them, the
cluster's reads shared (one LIST per kind for all of them).

Real parts: a redis-server, a Celery worker (threads) running fleetsync's tasks, kubesim
clusters over HTTP (its request counters, its faults), and a real kube-apiserver for an
admission webhook that fails.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

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
from tests.integration.kube.batches import reconcile_in_one_batch
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.realk8s import RealClusters
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


@pytest.mark.parametrize(
    ("fault", "said", "sync"),
    [
        ({"unauthorized": True}, "credentials refused (401", SyncState.OUT_OF_SYNC),
        ({"down": True}, "unreachable", SyncState.UNKNOWN),
    ],
    ids=["credentials refused", "unreachable"],
)
def test_a_cluster_that_refuses_the_first_pair_fails_the_rest_without_asking_again(
    redis_url: str,
    tmp_path: Path,
    kubesim: Simulator,
    handle: ClusterHandle,
    fault: dict[str, bool],
    said: str,
    sync: SyncState,
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    handle.set_fault(**fault)  # type: ignore[arg-type]
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)
    statuses = [store.recorded_status(a, cluster.name) for a in APPS]
    assert all(s is not None and s.sync is sync and s.failed for s in statuses), statuses
    messages = {s.message for s in statuses if s is not None}
    assert len(messages) == 1, messages
    message = messages.pop()
    assert message.startswith(f"cluster {cluster.name}: ") and said in message, message
    asked = sum(n for (verb, _), n in handle.request_counts().items())
    # The batch's shared reads, then the first pair's first round (the claim's two reads sent
    # together, kube/read_ahead.py, and discovery to place its objects).
    assert asked <= 4, f"one pair met the failure, the others were not tried ({asked})"


def test_an_apply_rbac_forbids_fails_its_pair_only_and_says_what_to_grant(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    # The cluster's user may read Secrets in "default" but not write them (RBAC without the
    # patch verb there). The first pair of the batch applies a Secret: its own failure, named
    # on the object with the verb to grant; the credentials work, and every later pair of the
    # same cluster in the same batch is reconciled and Synced.
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    first = APPS[0]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{first}-key", "namespace": "default"},
        "stringData": {"k": "v"},
    }
    bundle = Bundle.of([config_map(f"{first}-settings", "default", data={"v": "1"}), secret])
    store.set_desired(first, DesiredState(REV1, store.put_bundle(bundle), "plain", 1.0))
    handle.forbid_writes("secrets", namespaces=["default"])
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)

    key = f"core/Secret/default/{first}-key"
    refused = store.recorded_status(first, cluster.name)
    assert refused is not None and refused.failed and refused.sync is SyncState.OUT_OF_SYNC
    assert refused.error_object == key
    assert refused.message.startswith(f"{key}: apply forbidden (RBAC: "), refused.message
    assert 'cannot patch resource "secrets"' in refused.message
    assert refused.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "patch" verb on secrets in '
        "namespace default: grant it"
    ), refused.message
    assert "credentials refused" not in refused.message
    for a in APPS[1:]:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, (a, status)
    written = sorted(
        r.name
        for r in handle.request_log()
        if r.verb == "apply" and not r.dry_run and r.namespace == "default" and r.code < 300
    )
    assert written == [f"{a}-settings" for a in APPS[1:]], (
        "every other pair applied its ConfigMap; the refused pair wrote nothing"
    )


def _hooked(store: Store, app_name: AppName, policy: str, revision: Revision, value: str) -> str:
    """Give `app_name` a ConfigMap and a PreSync hook (a ConfigMap, Healthy once created) with
    delete policy `policy`; the hook's key."""
    hook = config_map(f"{app_name}-ready", "default")
    hook["metadata"]["annotations"] = {
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/hook-delete-policy": policy,
    }
    settings = config_map(f"{app_name}-settings", "default", data={"v": value})
    bundle = Bundle.of([settings, hook])
    store.set_desired(app_name, DesiredState(revision, store.put_bundle(bundle), "plain", 1.0))
    return f"core/ConfigMap/default/{app_name}-ready"


def _run_batch(store: Store, cluster: Cluster, done: int) -> None:
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, APPS, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == done, timeout=60)


def test_a_hook_whose_delete_rbac_forbids_succeeds_with_a_note_saying_what_to_grant(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    # The first pair's PreSync hook succeeds and is to be deleted (HookSucceeded); the cluster's
    # RBAC forbids deleting ConfigMaps. The hook ran: the pair syncs, and its status notes that
    # the hook stays and which verb to grant, rather than failing on every reconcile.
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    first = APPS[0]
    key = _hooked(store, first, "HookSucceeded", REV1, "1")
    handle.forbid_deletes("configmaps", namespaces=["default"])
    _run_batch(store, cluster, done=1)

    noted = store.recorded_status(first, cluster.name)
    assert noted is not None and noted.sync is SyncState.SYNCED and not noted.failed, noted
    note = (
        f"{key}: not deleted (hook-delete-policy HookSucceeded): its delete was forbidden (RBAC: "
    )
    assert note in noted.message, noted.message
    assert noted.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "delete" verb on configmaps '
        "in namespace default: grant it"
    ), noted.message
    (hook,) = noted.hooks
    assert hook.state == "Succeeded" and "not deleted" in hook.message, hook
    for a in APPS[1:]:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, (a, status)


def test_a_hook_s_before_creation_delete_rbac_forbids_fails_its_pair_only(
    redis_url: str, tmp_path: Path, kubesim: Simulator, handle: ClusterHandle
) -> None:
    # A BeforeHookCreation hook from the last sync must go before the new sync's is created:
    # RBAC forbidding its delete fails the pair (the hook cannot run again), saying what to
    # grant; the pairs after it in the batch are still reconciled.
    configure_workers(redis_url, tmp_path / "cache")
    store, cluster = _setup(redis_url, kubesim, handle)
    _desire(store, REV1, "1")
    first = APPS[0]
    _hooked(store, first, "BeforeHookCreation", REV1, "1")
    _run_batch(store, cluster, done=1)
    synced = store.recorded_status(first, cluster.name)
    assert synced is not None and synced.sync is SyncState.SYNCED, synced

    _desire(store, REV2, "2")
    key = _hooked(store, first, "BeforeHookCreation", REV2, "2")
    handle.forbid_deletes("configmaps", namespaces=["default"])
    _run_batch(store, cluster, done=2)

    refused = store.recorded_status(first, cluster.name)
    assert refused is not None and refused.failed and refused.sync is SyncState.OUT_OF_SYNC
    assert refused.error_object == key
    assert refused.message.startswith(f"the delete of {key} was forbidden (RBAC: "), refused
    assert refused.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "delete" verb on configmaps '
        "in namespace default: grant it"
    ), refused.message
    for a in APPS[1:]:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, (a, status)
        assert status.revision == REV2, (a, status)


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


@pytest.fixture
def failing_webhook(real_clusters: RealClusters) -> Iterator[tuple[Cluster, str]]:
    """A real cluster (its admin's kubeconfig) and a namespace of its own whose ConfigMaps an
    admission webhook that cannot be reached guards (failurePolicy Fail): every create or
    update there, dry-runs included, is answered 500 "failed calling webhook"."""
    run = uuid.uuid4().hex[:6]
    guarded = f"guarded-{run}"
    kubeconfig = real_clusters.kubeconfig(0)
    api = k8s_config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    admin = DynamicClient(api)
    namespaces = admin.resources.get(api_version="v1", kind="Namespace")
    webhooks = admin.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="ValidatingWebhookConfiguration"
    )
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": guarded}})
    webhook: dict[str, Any] = {
        "name": f"check-{run}.fleetsync.test",
        "clientConfig": {"url": "https://127.0.0.1:1/validate"},
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": guarded}},
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 2,
    }
    webhooks.create(
        body={
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"check-{run}"},
            "webhooks": [webhook],
        }
    )
    yield Cluster(name=ClusterName(f"real-{run}"), kubeconfig=str(kubeconfig)), guarded
    with contextlib.suppress(NotFoundError):
        webhooks.delete(name=f"check-{run}")
    with contextlib.suppress(NotFoundError):
        namespaces.delete(name=guarded)
    api.close()


def test_a_500_of_one_object_s_webhook_fails_its_pair_only_though_it_names_the_cluster(
    redis_url: str, tmp_path: Path, failing_webhook: tuple[Cluster, str]
) -> None:
    # The API server answers the first pair's object 500 (its admission webhook cannot be
    # called): a failure worded "cluster <name>: 500 ...", retried, yet the object's request's,
    # not the cluster's. The batch reconciles every pair after it.
    cluster, guarded = failing_webhook
    homes = {a: guarded if a == APPS[0] else "default" for a in APPS[:3]}
    store = reconcile_in_one_batch(
        redis_url, tmp_path / "cache", cluster, homes, revision=REV1, suffix=cluster.name
    )

    failed = store.recorded_status(APPS[0], cluster.name)
    assert failed is not None and failed.failed, failed
    assert failed.message.startswith(f"cluster {cluster.name}: 500 "), failed.message
    assert "failed calling webhook" in failed.message, failed.message
    for a in list(homes)[1:]:
        status = store.recorded_status(a, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED, (a, status)
