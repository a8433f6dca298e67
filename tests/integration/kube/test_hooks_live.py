"""Hooks on kubesim and a real API server, from a guestbook written the way Argo CD users write
it: a PreSync migration Job (generateName) and a PostSync smoke test. A hook is a step of the
sync that waits without sleeping: each `sync` here is one reconcile, continued by the next."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fleetsync.shared.kube.hookrun import HookState, HookWait, RunState
from fleetsync.shared.kube.hooks import HOOK_LABEL, PHASE_LABEL, RUN_LABEL, hook_id, split_hooks
from fleetsync.shared.kube.hooksync import start_post_delete
from fleetsync.shared.kube.inventory import Inventory, read_cluster_record
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION as OWNER
from fleetsync.shared.kube.sync import SyncResult
from fleetsync.shared.kube.waves import WaveWait
from fleetsync.shared.model import ChangeAction, Health, SyncState
from fleetsync.shared.model.hooks import HookPhase
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.hookjobs import (
    end_pod,
    finish_job,
    hold_jobs,
    hook_job,
    hook_jobs,
    hook_pod,
)
from tests.integration.kube.manifests import config_map, deployment, namespace, sync, widget_crd
from tests.support.waiting import wait_for


def guestbook(live: Live, *, image: str = "example/migrate:1") -> list[dict[str, Any]]:
    ns = live.ns
    return [
        namespace(ns),
        config_map("guestbook-ui", ns),
        hook_job("migrate", ns, "PreSync", image=image),
        hook_job("smoke-test", ns, "PostSync", policy="HookSucceeded"),
    ]


def test_presync_runs_before_the_apply_and_postsync_after_everything_is_healthy(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = guestbook(live)

    first = sync(live, bundle)

    assert isinstance(first.waiting, HookWait) and first.waiting.phase is HookPhase.PRE_SYNC
    assert first.waiting.applied is False
    assert first.state is SyncState.OUT_OF_SYNC and first.error is None
    assert {str(c.key): c.action for c in first.changes} == {
        f"core/Namespace/_/{ns}": ChangeAction.CREATED
    }, "only the definitions hooks may need are applied before PreSync completed"
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/guestbook-ui") is None
    (migrate,) = first.hooks
    assert migrate.phase is HookPhase.PRE_SYNC and migrate.state is HookState.RUNNING
    assert migrate.name.startswith("migrate-") and migrate.name != "migrate-"
    assert migrate.logs == f"kubectl logs job/{migrate.name} -n {ns}"
    assert str(first.waiting) == (
        f"waiting for PreSync hooks: batch/Job/{ns}/{migrate.name} running "
        f"(job is running; kubectl logs job/{migrate.name} -n {ns})"
    )

    again = sync(live, bundle, previous=first.inventory)
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == [migrate.name], "created once"
    assert isinstance(again.waiting, HookWait)
    finish_job(live, migrate.name)

    applied = sync(live, bundle, previous=again.inventory)

    assert applied.changes.action_of(live.key(f"core/ConfigMap/{ns}/guestbook-ui")) is (
        ChangeAction.CREATED
    )
    assert isinstance(applied.waiting, HookWait)
    assert applied.waiting.phase is HookPhase.POST_SYNC and applied.waiting.applied is True
    assert applied.state is SyncState.SYNCED, "every object is applied while PostSync runs"
    smoke = next(h for h in applied.hooks if h.phase is HookPhase.POST_SYNC)
    assert smoke.state is HookState.RUNNING
    finish_job(live, smoke.name)

    done = sync(live, bundle, previous=applied.inventory)

    assert done.waiting is None and done.error is None
    assert done.state is SyncState.SYNCED and done.health is Health.HEALTHY
    assert [(h.phase, h.state) for h in done.hooks] == [
        (HookPhase.PRE_SYNC, HookState.SUCCEEDED),
        (HookPhase.POST_SYNC, HookState.SUCCEEDED),
    ]
    assert {j["metadata"]["name"] for j in hook_jobs(live)} == {migrate.name}, (
        "the smoke test is deleted (HookSucceeded); the migration stays (BeforeHookCreation)"
    )
    record = read_cluster_record(live.client, live.app).hooks
    assert record is not None and record.state is RunState.SUCCEEDED
    assert not any(k.kind == "Job" for k in done.inventory.keys), "hooks never in the inventory"

    drift = sync(live, bundle, previous=done.inventory)

    assert drift.waiting is None and drift.state is SyncState.SYNCED
    assert {j["metadata"]["name"] for j in hook_jobs(live)} == {migrate.name}, (
        "a bundle's hooks run once: a later sync of the same bundle runs none"
    )


def test_a_new_revision_runs_a_named_hook_again_replacing_the_old_job(live: Live) -> None:
    """A Job's template cannot change in place: a hook is deleted and created, never patched."""
    ns = live.ns
    hold_jobs(live)
    first_bundle = [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False)]
    first = sync(live, first_bundle)
    finish_job(live, "migrate")
    done = sync(live, first_bundle, previous=first.inventory)
    assert done.waiting is None and done.error is None
    old_uid = live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate")["metadata"]["uid"]
    second_bundle = [
        namespace(ns),
        hook_job("migrate", ns, "PreSync", generate=False, image="example/migrate:2"),
    ]

    result = sync(live, second_bundle, previous=done.inventory)
    for _ in range(3):
        if result.hooks and result.hooks[0].name:
            break
        result = sync(live, second_bundle, previous=result.inventory)

    assert result.error is None
    job = live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate")
    assert job is not None and job["metadata"]["uid"] != old_uid
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "example/migrate:2"
    assert [c for c in live.engine_writes("apply", "dry-run") if "/Job/" in c.key] == [], (
        "a hook is created (POST), never applied or patched"
    )


def test_a_failed_hook_fails_the_sync_naming_it_and_runs_the_syncfail_hooks(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    page = hook_job("page-oncall", ns, "SyncFail")
    del page["metadata"]["namespace"]  # the application's
    bundle = [
        namespace(ns),
        config_map("app", ns),
        hook_job("migrate", ns, "PreSync"),
        page,
    ]
    first = sync(live, bundle)
    (migrate,) = first.hooks
    finish_job(live, migrate.name, succeeded=False)

    failed = sync(live, bundle, previous=first.inventory)

    assert failed.state is SyncState.OUT_OF_SYNC and failed.waiting is None
    assert failed.error is not None
    assert failed.error.key == live.key(f"batch/Job/{ns}/{migrate.name}")
    assert failed.error.message.startswith(
        f"PreSync hook failed (Job has reached the specified backoff limit; kubectl logs "
        f"job/{migrate.name} -n {ns}): sync failed; SyncFail hooks: SyncFail hook "
        f"batch/Job/{ns}/page-oncall-"
    )
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/app") is None
    names = sorted(j["metadata"]["name"] for j in hook_jobs(live))
    assert len(names) == 2 and names[1].startswith("page-oncall-")

    later = sync(live, bundle, previous=failed.inventory)

    assert later.error is not None and later.error.message == failed.error.message
    assert len(hook_jobs(live)) == 2, "a failed run is not retried by a drift check"

    retried = sync(live, bundle, previous=later.inventory, retry_hooks=True)

    assert isinstance(retried.waiting, HookWait), "a manual sync starts the run anew"
    fresh = retried.hooks[0].name
    assert fresh != migrate.name
    assert migrate.name not in {j["metadata"]["name"] for j in hook_jobs(live)}, (
        "BeforeHookCreation deleted the failed one"
    )


def test_a_hook_that_never_completes_fails_at_the_deadline_and_runs_the_syncfail_hooks(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        config_map("app", ns),
        hook_job("migrate", ns, "PreSync"),
        hook_job("page-oncall", ns, "SyncFail"),
    ]
    first = sync(live, bundle, hook_timeout=60.0)
    assert isinstance(first.waiting, HookWait)
    since = first.waiting.since
    before = sync(
        live, bundle, previous=first.inventory, hook_timeout=60.0, clock=lambda: since + 59.9
    )
    assert isinstance(before.waiting, HookWait) and before.error is None, "a moment before"
    assert before.waiting.deadline == since + 60.0

    late = sync(
        live, bundle, previous=before.inventory, hook_timeout=60.0, clock=lambda: since + 60.0
    )

    assert late.waiting is None and late.error is not None
    name = first.hooks[0].name
    assert late.error.key == live.key(f"batch/Job/{ns}/{name}")
    assert late.error.message.startswith(
        "PreSync hook failed (did not complete within 60s (sync.hookTimeout): job is running;"
    )
    assert f"sync failed; SyncFail hooks: SyncFail hook batch/Job/{ns}/page-oncall-" in (
        late.error.message
    )
    assert [(h.phase, h.state) for h in late.hooks] == [
        (HookPhase.PRE_SYNC, HookState.FAILED),
        (HookPhase.SYNC_FAIL, HookState.RUNNING),
    ]
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/app") is None


def sync_waves(live: Live) -> list[dict[str, Any]]:
    """Argo CD's sync-waves example: a PreSync schema upgrade, the backend in wave 0, a
    maintenance page put up by a Sync hook in wave 1, the frontend in wave 2, the page taken
    down by a Sync hook in wave 3."""
    ns = live.ns
    return [
        namespace(ns),
        hook_job("upgrade-sql-schema", ns, "PreSync"),
        config_map("backend", ns, wave=0),
        hook_job("maint-page-up", ns, "Sync", generate=False, wave=1),
        config_map("frontend", ns, wave=2),
        hook_job("maint-page-down", ns, "Sync", generate=False, wave=3),
    ]


def test_sync_hooks_and_objects_take_turns_by_wave(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = sync_waves(live)
    frontend = f"/api/v1/namespaces/{ns}/configmaps/frontend"
    first = sync(live, bundle)
    finish_job(live, first.hooks[0].name)

    up = sync(live, bundle, previous=first.inventory)

    assert [(str(c.key), c.action, c.message) for c in up.changes] == [
        (f"core/Namespace/_/{ns}", ChangeAction.UNCHANGED, ""),
        (f"core/ConfigMap/{ns}/backend", ChangeAction.CREATED, ""),
        (
            f"core/ConfigMap/{ns}/frontend",
            ChangeAction.SKIPPED,
            "waiting for Sync hooks before wave 2",
        ),
    ]
    assert live.operator.get(frontend) is None, "wave 2 waits for wave 1's Sync hook"
    assert isinstance(up.waiting, HookWait) and up.waiting.phase is HookPhase.SYNC
    assert up.waiting.applied is False, "wave 2 is not applied yet"
    assert up.state is SyncState.OUT_OF_SYNC, "waves are left to apply"
    assert str(up.waiting).startswith(
        f"waiting for Sync hooks: batch/Job/{ns}/maint-page-up running"
    )
    assert [h.name for h in up.hooks if h.phase is HookPhase.SYNC] == ["maint-page-up"]

    still = sync(live, bundle, previous=up.inventory)

    assert live.operator.get(frontend) is None
    assert [j["metadata"]["name"] for j in hook_jobs(live) if "maint" in j["metadata"]["name"]] == [
        "maint-page-up"
    ], "created once, and the next wave's hook not yet"
    finish_job(live, "maint-page-up")

    down = sync(live, bundle, previous=still.inventory)

    assert down.changes.action_of(live.key(f"core/ConfigMap/{ns}/frontend")) is (
        ChangeAction.CREATED
    )
    assert [(h.name, h.state) for h in down.hooks if h.phase is HookPhase.SYNC] == [
        ("maint-page-up", HookState.SUCCEEDED),
        ("maint-page-down", HookState.RUNNING),
    ]
    assert isinstance(down.waiting, HookWait) and down.state is SyncState.SYNCED
    assert down.waiting.applied is True
    finish_job(live, "maint-page-down")

    done = sync(live, bundle, previous=down.inventory)

    assert done.waiting is None and done.error is None and done.state is SyncState.SYNCED
    record = read_cluster_record(live.client, live.app).hooks
    assert record is not None and record.state is RunState.SUCCEEDED


def test_a_sync_hook_before_every_object_runs_first(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        config_map("app", ns),
        hook_job("first", ns, "Sync", wave=-1),
        hook_job("second", ns, "Sync", wave=1),
    ]

    result = sync(live, bundle)

    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/app") is None
    assert [h.key.rpartition("/")[2] for h in result.hooks] == ["first-"]
    finish_job(live, result.hooks[0].name)
    later = sync(live, bundle, previous=result.inventory)
    assert later.changes.action_of(live.key(f"core/ConfigMap/{ns}/app")) is ChangeAction.CREATED
    assert [(h.key.rpartition("/")[2], h.state) for h in later.hooks] == [
        ("first-", HookState.SUCCEEDED),
        ("second-", HookState.RUNNING),
    ]


def test_a_failed_sync_hook_stops_the_waves_after_it_and_runs_the_syncfail_hooks(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [*sync_waves(live), hook_job("page-oncall", ns, "SyncFail")]
    first = sync(live, bundle)
    finish_job(live, first.hooks[0].name)
    up = sync(live, bundle, previous=first.inventory)
    finish_job(live, "maint-page-up", succeeded=False)

    failed = sync(live, bundle, previous=up.inventory)

    assert failed.error is not None and failed.waiting is None
    assert failed.error.key == live.key(f"batch/Job/{ns}/maint-page-up")
    assert failed.error.message.startswith(
        "Sync hook failed (Job has reached the specified backoff limit; kubectl logs "
        f"job/maint-page-up -n {ns}): sync failed; SyncFail hooks: SyncFail hook "
        f"batch/Job/{ns}/page-oncall-"
    )
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frontend") is None
    assert live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/maint-page-down") is None


def test_a_sync_hook_waits_for_earlier_waves_healthy_and_its_deadline_starts_when_created(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    seed = hook_job("seed", ns, "Sync", generate=False)
    del seed["metadata"]["annotations"]  # an ordinary Job, in wave 0
    bundle = [namespace(ns), seed, hook_job("notify", ns, "Sync", generate=False, wave=1)]
    start = time.time()

    first = sync(live, bundle, hook_timeout=60.0, clock=lambda: start)

    assert isinstance(first.waiting, WaveWait) and first.waiting.wave == 1
    assert hook_jobs(live) == [], "no Sync hook before the earlier waves are healthy"
    finish_job(live, "seed")

    late = sync(
        live, bundle, previous=first.inventory, hook_timeout=60.0, clock=lambda: start + 120
    )

    assert isinstance(late.waiting, HookWait) and late.error is None, (
        "the hook's minute starts when it is created, not when the phase began"
    )
    assert [(h.name, h.state) for h in late.hooks] == [("notify", HookState.RUNNING)]

    over = sync(live, bundle, previous=late.inventory, hook_timeout=60.0, clock=lambda: start + 181)

    assert over.error is not None and over.error.key == live.key(f"batch/Job/{ns}/notify")
    assert over.error.message == (
        "Sync hook failed (did not complete within 60s (sync.hookTimeout): job is running; "
        f"kubectl logs job/notify -n {ns}): sync failed"
    )


def test_a_wave_that_times_out_fails_the_run_and_runs_the_syncfail_hooks(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    if live.simulated:
        live.sim.set_controllers(never_ready=True, job_result="run")  # no kubelet on real ones
    bundle = [
        namespace(ns),
        deployment("db", ns, wave=0),
        config_map("app", ns, wave=1),
        hook_job("page-oncall", ns, "SyncFail"),
    ]
    start = time.time()
    first = sync(live, bundle, wave_timeout=60.0, clock=lambda: start)
    assert isinstance(first.waiting, WaveWait) and hook_jobs(live) == []
    # A real deployment controller updates the status in steps: the late sync reads it once
    # its replica is created (and, with no kubelet, never available).
    wait_for(
        lambda: (
            (live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/db") or {})
            .get("status", {})
            .get("updatedReplicas")
        ),
        what="the deployment's replica created",
    )

    late = sync(live, bundle, previous=first.inventory, wave_timeout=60.0, clock=lambda: start + 61)

    assert late.error is not None and late.error.message.startswith(
        "wave 1 not applied: earlier waves not healthy after 60s (sync.waveTimeout)"
    )
    (page,) = hook_jobs(live)
    assert page["metadata"]["name"].startswith("page-oncall-")
    assert [(h.phase, h.state) for h in late.hooks] == [(HookPhase.SYNC_FAIL, HookState.RUNNING)]
    assert late.error.key == live.key(f"apps/Deployment/{ns}/db")
    assert late.error.message == (
        "wave 1 not applied: earlier waves not healthy after 60s (sync.waveTimeout): "
        f"apps/Deployment/{ns}/db: Progressing (0 of 1 updated replicas available)"
    )


def test_an_object_refused_by_validation_fails_the_run_once_and_runs_the_syncfail_hooks(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    broken = deployment("api", ns)
    broken["spec"]["replicas"] = "two"
    bundle = [namespace(ns), broken, hook_job("page-oncall", ns, "SyncFail")]
    sync(live, [namespace(ns)])

    failed = sync(live, bundle)

    assert failed.error is not None and failed.error.key == live.key(f"apps/Deployment/{ns}/api")
    assert [(h.phase, h.state) for h in failed.hooks] == [(HookPhase.SYNC_FAIL, HookState.RUNNING)]
    assert len(hook_jobs(live)) == 1
    record = read_cluster_record(live.client, live.app).hooks
    assert record is not None and record.state is RunState.FAILED
    assert record.error.startswith(f"apps/Deployment/{ns}/api: dry-run failed")

    again = sync(live, bundle, previous=failed.inventory)

    assert again.error is not None and len(hook_jobs(live)) == 1, "SyncFail hooks run once"


def test_hook_failed_deletes_a_failed_hook_and_hook_succeeded_keeps_it(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        hook_job("check", ns, "PreSync", generate=False, policy="HookFailed"),
        hook_job("verify", ns, "PreSync", generate=False, policy="HookSucceeded"),
    ]
    first = sync(live, bundle)
    assert sorted(h.name for h in first.hooks) == ["check", "verify"]
    finish_job(live, "check", succeeded=False)
    finish_job(live, "verify", succeeded=False)

    failed = sync(live, bundle, previous=first.inventory)

    assert failed.error is not None
    assert {h.name: h.state for h in failed.hooks} == {
        "check": HookState.FAILED,
        "verify": HookState.FAILED,
    }
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == ["verify"]


def test_a_named_hook_without_before_hook_creation_is_not_replaced_and_says_what_to_do(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    first_bundle = [
        namespace(ns),
        hook_job("migrate", ns, "PreSync", generate=False, policy="HookFailed"),
    ]
    first = sync(live, first_bundle)
    finish_job(live, "migrate")
    assert sync(live, first_bundle, previous=first.inventory).error is None
    second_bundle = [
        namespace(ns),
        hook_job("migrate", ns, "PreSync", generate=False, policy="HookFailed", image="m:2"),
    ]

    result = sync(live, second_bundle, previous=first.inventory)

    assert result.error is not None
    assert result.error.key == live.key(f"batch/Job/{ns}/migrate")
    assert result.error.message == (
        "PreSync hook failed (exists from an earlier sync and its delete policy does not include "
        "BeforeHookCreation; delete it, or add BeforeHookCreation): sync failed"
    )


def test_a_hook_whose_name_another_object_holds_fails_asking_for_a_rename(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    sync(live, [namespace(ns)])
    theirs = hook_job("migrate", ns, "PreSync", generate=False)
    del theirs["metadata"]["annotations"]
    live.operator.create(f"/apis/batch/v1/namespaces/{ns}/jobs", theirs)

    result = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False)])

    assert result.error is not None and result.error.message == (
        "PreSync hook failed (the name is taken by an object this application did not create; "
        "rename the hook): sync failed"
    )
    job = live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate")
    assert job is not None and HOOK_LABEL not in (job["metadata"].get("labels") or {})


def test_the_next_commit_runs_the_hooks_again_and_a_dropped_hook_is_never_pruned(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)

    def settle(bundle: list[dict[str, Any]], previous: Inventory) -> SyncResult:
        result = sync(live, bundle, previous=previous)
        for hook in result.hooks:
            if hook.state is HookState.RUNNING and hook.name:
                finish_job(live, hook.name)
        result = sync(live, bundle, previous=result.inventory)
        assert result.waiting is None and result.error is None, result
        return result

    migrate = hook_job("migrate", ns, "PreSync")
    first = settle([namespace(ns), config_map("app", ns, data={"v": "1"}), migrate], Inventory())
    (one,) = [j["metadata"]["name"] for j in hook_jobs(live)]

    second = settle(
        [namespace(ns), config_map("app", ns, data={"v": "2"}), migrate], first.inventory
    )

    (two,) = [j["metadata"]["name"] for j in hook_jobs(live)]
    assert two != one, "a new commit runs its hooks anew; BeforeHookCreation removed the old one"
    assert [h.name for h in second.hooks] == [two]

    third = sync(
        live, [namespace(ns), config_map("app", ns, data={"v": "3"})], previous=second.inventory
    )

    assert third.error is None and third.changes.counts.get(ChangeAction.PRUNED, 0) == 0
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == [two], "hooks are never pruned"


@pytest.mark.parametrize("succeeded", [True, False], ids=["succeeded", "failed"])
def test_a_pod_hook_completes_or_fails_the_sync_by_its_phase(live: Live, succeeded: bool) -> None:
    ns = live.ns
    if live.simulated:
        live.sim.set_controllers(ready_delay=0.1, job_result="complete" if succeeded else "fail")
    bundle = [namespace(ns), config_map("app", ns), hook_pod("check", ns, "PreSync")]
    first = sync(live, bundle)
    (check,) = first.hooks
    assert check.kind == "Pod" and check.logs == f"kubectl logs pod/{check.name} -n {ns}"
    end_pod(live, check.name, succeeded=succeeded)

    result = sync(live, bundle, previous=first.inventory)

    assert [(h.phase, h.state) for h in result.hooks] == [
        (HookPhase.PRE_SYNC, HookState.SUCCEEDED if succeeded else HookState.FAILED)
    ]
    applied = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/app")
    if succeeded:
        assert result.error is None and applied is not None
    else:
        assert result.error is not None and applied is None
        assert result.error.message == (
            f"PreSync hook failed (container check exited 1 (Error); kubectl logs "
            f"pod/{check.name} -n {ns}): sync failed"
        )


def helm_hook(job: dict[str, Any], hook: str, **annotations: str) -> dict[str, Any]:
    """`job` annotated as a chart's template annotates its hooks."""
    job["metadata"]["annotations"] = {"helm.sh/hook": hook, **annotations}
    return job


def test_helm_hooks_run_as_argo_cd_maps_them_weights_as_waves_and_tests_never(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    test_pod = helm_hook(hook_pod("test-connection", ns, "PreSync"), "test")
    bundle = [
        namespace(ns),
        config_map("db", ns),
        helm_hook(
            hook_job("db-migrate", ns, "", generate=False),
            "pre-install,pre-upgrade",
            **{"helm.sh/hook-weight": "-5", "helm.sh/hook-delete-policy": "before-hook-creation"},
        ),
        helm_hook(
            hook_job("db-seed", ns, "", generate=False),
            "pre-install",
            **{"helm.sh/hook-weight": "5"},
        ),
        helm_hook(
            hook_job("db-notify", ns, "", generate=False),
            "post-install",
            **{"helm.sh/hook-delete-policy": "hook-succeeded"},
        ),
        test_pod,
    ]

    first = sync(live, bundle)

    assert [h.name for h in first.hooks] == ["db-migrate"], "weight -5 before weight 5"
    finish_job(live, "db-migrate")
    second = sync(live, bundle, previous=first.inventory)
    assert [(h.name, h.state) for h in second.hooks] == [
        ("db-migrate", HookState.SUCCEEDED),
        ("db-seed", HookState.RUNNING),
    ]
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/db") is None
    finish_job(live, "db-seed")
    third = sync(live, bundle, previous=second.inventory)
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/db") is not None
    assert [h.name for h in third.hooks if h.phase is HookPhase.POST_SYNC] == ["db-notify"]
    finish_job(live, "db-notify")

    done = sync(live, bundle, previous=third.inventory)

    assert done.error is None and done.waiting is None
    assert sorted(j["metadata"]["name"] for j in hook_jobs(live)) == ["db-migrate", "db-seed"]
    pods = live.operator.request("GET", f"/api/v1/namespaces/{ns}/pods")
    names = [p["metadata"]["name"] for p in pods.get("items") or []]
    assert not [n for n in names if n.startswith("test-connection")], "a test hook never runs"


def test_a_failure_after_the_run_succeeded_runs_no_syncfail_hook_and_does_not_stick(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        config_map("app", ns),
        hook_job("migrate", ns, "PreSync", generate=False),
        hook_job("page-oncall", ns, "SyncFail"),
    ]
    first = sync(live, bundle)
    finish_job(live, "migrate")
    done = sync(live, bundle, previous=first.inventory)
    assert done.error is None and done.waiting is None
    path = f"/api/v1/namespaces/{ns}/configmaps/app"
    live.operator.merge_patch(path, {"metadata": {"annotations": {OWNER: "someone-else"}}})

    refused = sync(live, bundle, previous=done.inventory)

    assert refused.error is not None and refused.error.message == (
        "conflict: owned by fleetsync application 'someone-else'; not taken over "
        "(declare it in one application only)"
    )
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == ["migrate"], "no SyncFail hook"
    record = read_cluster_record(live.client, live.app).hooks
    assert record is not None and record.state is RunState.SUCCEEDED
    live.operator.merge_patch(path, {"metadata": {"annotations": {OWNER: live.app}}})

    healed = sync(live, bundle, previous=refused.inventory)

    assert healed.error is None and healed.state is SyncState.SYNCED


def test_a_named_hook_whose_name_this_application_s_object_holds_replaces_it_first(
    live: Live,
) -> None:
    # The name is held by an object this application applied (its annotation, no hook label):
    # under BeforeHookCreation it is deleted, and the hook created at the next look.
    ns = live.ns
    hold_jobs(live)
    sync(live, [namespace(ns)])
    earlier = hook_job("migrate", ns, "PreSync", generate=False, image="m:1")
    earlier["metadata"]["annotations"] = {OWNER: live.app}
    live.operator.create(f"/apis/batch/v1/namespaces/{ns}/jobs", earlier)
    bundle = [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False, image="m:2")]

    first = sync(live, bundle)

    assert first.error is None and isinstance(first.waiting, HookWait)
    assert [(h.name, h.state, h.message) for h in first.hooks] == [
        ("", HookState.RUNNING, "waiting for the previous one to go")
    ]
    assert live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate") is None

    second = sync(live, bundle, previous=first.inventory)

    assert [(h.name, h.state) for h in second.hooks] == [("migrate", HookState.RUNNING)]
    job = live.operator.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate")
    assert job is not None and job["metadata"]["labels"][HOOK_LABEL]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "m:2"


def test_a_named_hook_waits_while_the_object_holding_its_name_is_being_deleted(
    live: Live,
) -> None:
    # Another's object of the hook's name, deleted but held by a finalizer: the hook waits for it
    # to go rather than failing for a name taken.
    ns = live.ns
    hold_jobs(live)
    sync(live, [namespace(ns)])
    theirs = hook_job("migrate", ns, "PreSync", generate=False)
    theirs["metadata"] = {"name": "migrate", "finalizers": ["example.com/hold"]}
    path = f"/apis/batch/v1/namespaces/{ns}/jobs/migrate"
    live.operator.create(f"/apis/batch/v1/namespaces/{ns}/jobs", theirs)
    live.operator.delete(path)
    try:
        result = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False)])
    finally:
        live.operator.merge_patch(path, {"metadata": {"finalizers": None}})

    assert result.error is None and isinstance(result.waiting, HookWait)
    assert [(h.state, h.message) for h in result.hooks] == [
        (HookState.RUNNING, "waiting for the previous one to go")
    ]


def test_a_hook_whose_name_is_taken_between_its_look_up_and_its_create_waits(
    live: Live,
) -> None:
    # Someone creates an object of the hook's name after the engine found none: the server
    # answers the engine's create 409, and the hook waits instead of failing the sync.
    ns = live.ns
    hold_jobs(live)
    sync(live, [namespace(ns)])
    engine_create = live.client.create
    jobs = f"/apis/batch/v1/namespaces/{ns}/jobs"

    def create_raced(resource: Any, body: Any, *args: Any, **kw: Any) -> Any:
        if body.get("kind") == "Job":
            live.operator.create(jobs, {**body, "metadata": {"name": "migrate"}})
        return engine_create(resource, body, *args, **kw)

    setattr(live.client, "create", create_raced)  # noqa: B010

    result = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False)])

    assert result.error is None and isinstance(result.waiting, HookWait)
    assert [(h.state, h.message) for h in result.hooks] == [
        (HookState.RUNNING, "waiting for the previous one to go")
    ]


def test_a_hook_of_a_kind_the_cluster_does_not_serve_fails_naming_the_kind(live: Live) -> None:
    ns = live.ns
    gizmo = {
        "apiVersion": f"{live.group}/v1",
        "kind": "Gizmo",
        "metadata": {
            "name": "g",
            "namespace": ns,
            "annotations": {"argocd.argoproj.io/hook": "PreSync"},
        },
    }

    result = sync(live, [namespace(ns), gizmo])

    assert result.error is not None
    assert str(result.error) == (
        f"{live.group}/Gizmo/{ns}/g: PreSync hook failed (kind Gizmo ({live.group}/v1) is not "
        f"served by cluster {live.cluster.name}; install its CRD or add it to the bundle): "
        "sync failed"
    )


def test_postsync_hooks_wait_for_every_object_healthy_and_land_in_the_application_s_namespace(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    if live.simulated:
        live.sim.set_controllers(never_ready=True, job_result="run")  # no kubelet on real ones
    smoke = hook_job("smoke", ns, "PostSync", generate=False)
    del smoke["metadata"]["namespace"]  # the application's namespace
    bundle = [namespace(ns), deployment("web", ns), smoke]

    first = sync(live, bundle)

    assert isinstance(first.waiting, HookWait) and first.waiting.phase is HookPhase.POST_SYNC
    assert str(first.waiting).startswith(
        f"waiting for PostSync hooks: every object healthy first: apps/Deployment/{ns}/web"
    )
    assert hook_jobs(live) == []

    ready = sync(live, [namespace(ns), config_map("web", ns), smoke], previous=first.inventory)

    assert isinstance(ready.waiting, HookWait) and ready.waiting.phase is HookPhase.POST_SYNC
    assert [(h.name, h.namespace, h.state) for h in ready.hooks] == [
        ("smoke", ns, HookState.RUNNING)
    ]
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == ["smoke"]


def test_objects_not_healthy_by_the_hook_timeout_fail_the_run_naming_them_before_postsync(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    if live.simulated:
        live.sim.set_controllers(never_ready=True, job_result="run")  # no kubelet on real ones
    bundle = [
        namespace(ns),
        deployment("web", ns),
        hook_job("smoke", ns, "PostSync"),
        hook_job("page-oncall", ns, "SyncFail"),
    ]
    first = sync(live, bundle, hook_timeout=60.0)
    assert isinstance(first.waiting, HookWait) and first.waiting.phase is HookPhase.POST_SYNC
    since = first.waiting.since
    before = sync(
        live, bundle, previous=first.inventory, hook_timeout=60.0, clock=lambda: since + 59.9
    )
    assert isinstance(before.waiting, HookWait) and before.error is None, "a moment before"
    assert (before.waiting.since, before.waiting.deadline) == (since, since + 60.0)
    assert before.waiting.applied is True

    late = sync(
        live, bundle, previous=before.inventory, hook_timeout=60.0, clock=lambda: since + 60.0
    )

    assert late.waiting is None and late.error is not None
    assert late.error.message.startswith(
        "objects not healthy after 60s (sync.hookTimeout), PostSync hooks not run: "
        f"apps/Deployment/{ns}/web: Progressing"
    ), late.error.message
    assert [(h.phase, h.state) for h in late.hooks] == [(HookPhase.SYNC_FAIL, HookState.RUNNING)]
    (page,) = hook_jobs(live)
    assert page["metadata"]["name"].startswith("page-oncall-"), "the smoke test never ran"


def test_a_finished_hook_its_policy_deleted_is_not_created_again_while_a_later_wave_runs(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        config_map("app", ns),
        hook_job("migrate", ns, "PreSync", policy="HookSucceeded", wave=0),
        hook_job("seed", ns, "PreSync", wave=1),
    ]
    first = sync(live, bundle)
    (migrate,) = first.hooks
    finish_job(live, migrate.name)
    second = sync(live, bundle, previous=first.inventory)
    seed = next(h for h in second.hooks if h.name.startswith("seed-"))
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == [seed.name], (
        "the migration is deleted once it succeeded (HookSucceeded)"
    )

    third = sync(live, bundle, previous=second.inventory)

    assert isinstance(third.waiting, HookWait) and third.waiting.phase is HookPhase.PRE_SYNC
    assert [j["metadata"]["name"] for j in hook_jobs(live)] == [seed.name], "migrated once"
    assert {h.name: h.state for h in third.hooks} == {
        migrate.name: HookState.SUCCEEDED,
        seed.name: HookState.RUNNING,
    }
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/app") is None


@kubesim_only
def test_a_hook_named_by_generate_name_is_created_without_looking_up_a_name(live: Live) -> None:
    # Only a hook with a name of its own can find it taken; a generated one costs no GET.
    ns = live.ns
    hold_jobs(live)
    live.sim.reset_request_counts()

    first = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync")])

    (migrate,) = first.hooks
    assert migrate.state is HookState.RUNNING and migrate.name.startswith("migrate-")
    counts = live.sim.request_counts()
    assert counts[("create", "jobs")] == 1
    assert counts.get(("get", "jobs"), 0) == 0


def test_two_applications_with_the_same_hook_in_one_namespace_each_keep_their_own(
    live: Live,
) -> None:
    # Each replaces only its own earlier runs (BeforeHookCreation): the hook's identity
    # includes its application.
    ns = live.ns
    hold_jobs(live)
    other = live.app_named("other")
    first = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync")])
    (mine,) = first.hooks

    theirs = sync(live, [hook_job("migrate", ns, "PreSync")], app=other)

    (their_hook,) = theirs.hooks
    assert their_hook.state is HookState.RUNNING and their_hook.name != mine.name
    assert sorted(j["metadata"]["name"] for j in hook_jobs(live)) == sorted(
        [mine.name, their_hook.name]
    )


def test_a_namespace_applied_before_presync_is_not_applied_again_after_it(live: Live) -> None:
    # A ConfigMap hook is complete once created, so the whole sync runs at once: the namespace
    # the hook needs first, the hook, then the rest, the namespace already as it now is.
    ns = live.ns
    pre = config_map("pre", ns)
    pre["metadata"]["annotations"] = {"argocd.argoproj.io/hook": "PreSync"}
    live.calls.clear()

    result = sync(live, [namespace(ns), config_map("settings", ns), pre])

    assert result.error is None and result.waiting is None
    assert [(h.phase, h.state) for h in result.hooks] == [(HookPhase.PRE_SYNC, HookState.SUCCEEDED)]
    assert [c.key for c in live.engine_writes("apply") if ns in c.key] == [
        f"core/Namespace/_/{ns}",
        f"core/ConfigMap/{ns}/settings",
    ]


def presync_config_map(name: str, ns: str) -> dict[str, Any]:
    """A PreSync hook of a kind that is Healthy once created: it succeeds in the sync that
    creates it, so that sync goes on to apply everything."""
    hook = config_map(name, ns)
    hook["metadata"]["annotations"] = {"argocd.argoproj.io/hook": "PreSync"}
    return hook


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "create-namespace"])
def test_a_namespace_created_before_presync_is_reported_created_when_the_sync_runs_on(
    live: Live, declared: bool
) -> None:
    ns = live.ns
    objects = [config_map("app", ns), presync_config_map("ready", ns)]
    bundle = [namespace(ns), *objects] if declared else objects

    result = sync(live, bundle, create_namespace=not declared)

    assert result.waiting is None and result.error is None and result.state is SyncState.SYNCED
    assert [(h.phase, h.state) for h in result.hooks] == [
        (HookPhase.PRE_SYNC, HookState.SUCCEEDED)
    ], "the hook succeeded in this sync, which went on to apply everything"
    assert result.changes.action_of(live.key(f"core/Namespace/_/{ns}")) is ChangeAction.CREATED
    assert result.changes.action_of(live.key(f"core/ConfigMap/{ns}/app")) is ChangeAction.CREATED
    assert result.counts["created"] == 2 and result.counts["unchanged"] == 0
    assert [c.key for c in live.engine_writes("apply")].count(f"core/Namespace/_/{ns}") == 1, (
        "the namespace is applied once, before the hooks"
    )


@kubesim_only
def test_a_hook_the_server_refuses_to_create_fails_its_phase_with_the_refusal(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    refused = hook_job("Bad_Name", ns, "PreSync", generate=False)

    result = sync(live, [namespace(ns), config_map("guestbook-ui", ns), refused])

    assert result.error is not None and result.error.key == live.key(f"batch/Job/{ns}/Bad_Name")
    message = result.error.message
    assert message.startswith(
        'PreSync hook failed (create refused: 422 Invalid: Job.batch "Bad_Name" is invalid: '
        'metadata.name: Invalid value: "Bad_Name": '
    ), message
    assert message.endswith("): sync failed"), message
    assert [(h.phase, h.state) for h in result.hooks] == [(HookPhase.PRE_SYNC, HookState.FAILED)]
    assert result.state is SyncState.OUT_OF_SYNC
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/guestbook-ui") is None


@kubesim_only
def test_definitions_that_fail_before_presync_fail_the_sync_and_create_no_hook(
    live: Live,
) -> None:
    ns = live.ns
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=600.0)
    crd = widget_crd(live.group)
    bundle = [namespace(ns), crd, config_map("guestbook-ui", ns), hook_job("m", ns, "PreSync")]

    result = sync(live, bundle, timeout=0.5)

    crd_key = f"apiextensions.k8s.io/CustomResourceDefinition/_/{crd['metadata']['name']}"
    not_established = (
        "created, then not Established after 0.5s (Progressing: waiting for the CRD to be "
        "established)"
    )
    assert [(str(c.key), c.action, c.message) for c in result.changes] == [
        (f"core/Namespace/_/{ns}", ChangeAction.CREATED, ""),
        (crd_key, ChangeAction.FAILED, not_established),
    ]
    assert result.error is not None
    assert result.error.message == f"{crd_key}: {not_established}"
    assert result.hooks == () and hook_jobs(live) == []
    assert result.state is SyncState.OUT_OF_SYNC
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/guestbook-ui") is None


@kubesim_only
def test_a_hook_rbac_forbids_creating_fails_its_phase_naming_the_verb_to_grant(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    live.sim.set_fault(forbidden_writes=(("jobs", ns),))

    result = sync(live, [namespace(ns), hook_job("migrate", ns, "PreSync", generate=False)])

    assert result.error is not None and str(result.error) == (
        f"batch/Job/{ns}/migrate: PreSync hook failed (create forbidden (RBAC: jobs is "
        'forbidden: User "system:serviceaccount:fleetsync:fleetsync" cannot create resource '
        f'"jobs" in API group "batch" in the namespace "{ns}"): the user of kubeconfig '
        f'{live.cluster.kubeconfig} lacks the "create" verb on jobs.batch in namespace {ns}: '
        "grant it): sync failed"
    )
    assert hook_jobs(live) == []


@kubesim_only
def test_a_created_hook_carries_its_identity_run_and_phase_beside_its_own_labels(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    migrate = hook_job("migrate", ns, "PreSync", generate=False)
    migrate["metadata"]["labels"] = {"team": "db"}

    result = sync(live, [namespace(ns), migrate])

    assert isinstance(result.waiting, HookWait)
    run = read_cluster_record(live.client, live.app).hooks
    assert run is not None
    (job,) = hook_jobs(live)
    assert job["metadata"]["labels"] == {
        "team": "db",
        "app.kubernetes.io/managed-by": "fleetsync",
        "fleetsync.io/application": live.app,
        HOOK_LABEL: hook_id(live.app, HookPhase.PRE_SYNC, live.key(f"batch/Job/{ns}/migrate")),
        RUN_LABEL: run.label,
        PHASE_LABEL: "PreSync",
    }


def test_a_wait_on_hooks_names_the_first_three_still_running(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    names = ["a", "b", "c", "d"]
    bundle = [namespace(ns), *(hook_job(n, ns, "PreSync", generate=False) for n in names)]

    first = sync(live, bundle)

    assert isinstance(first.waiting, HookWait)
    assert str(first.waiting) == "waiting for PreSync hooks: " + "; ".join(
        f"batch/Job/{ns}/{n} running (job is running; kubectl logs job/{n} -n {ns})"
        for n in names[:3]
    )


def test_a_failed_run_names_every_syncfail_hook_it_created(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        hook_job("migrate", ns, "PreSync", generate=False),
        hook_job("page-a", ns, "SyncFail", generate=False),
        hook_job("page-b", ns, "SyncFail", generate=False),
    ]
    first = sync(live, bundle)
    finish_job(live, "migrate", succeeded=False)

    failed = sync(live, bundle, previous=first.inventory)

    assert failed.error is not None
    assert failed.error.message == (
        "PreSync hook failed (Job has reached the specified backoff limit; kubectl logs "
        f"job/migrate -n {ns}): sync failed; SyncFail hooks: "
        + ", ".join(
            f"SyncFail hook batch/Job/{ns}/{n} running "
            f"(job is running; kubectl logs job/{n} -n {ns})"
            for n in ("page-a", "page-b")
        )
    )


def test_post_delete_hooks_alone_are_created_labelled_with_a_run_of_the_last_bundle(
    live: Live,
) -> None:
    ns = live.ns
    hold_jobs(live)
    sync(live, [namespace(ns)])
    _, hooks = split_hooks(
        [
            hook_job("migrate", ns, "PreSync", generate=False),
            hook_job("cleanup", ns, "PostDelete", generate=False),
        ],
        app=live.app,
    )

    started = start_post_delete(live.client, app=live.app, bundle="d" * 64, hooks=hooks, now=1000)

    assert [(r.phase, r.name, r.namespace, r.state) for r in started] == [
        (HookPhase.POST_DELETE, "cleanup", ns, HookState.RUNNING)
    ]
    (created,) = hook_jobs(live)
    assert created["metadata"]["name"] == "cleanup"
    assert created["metadata"]["labels"][RUN_LABEL] == "dddddddddddddddd-f4240"


def test_a_sync_hook_runs_beside_the_objects_of_its_own_wave(live: Live) -> None:
    ns = live.ns
    hold_jobs(live)
    bundle = [
        namespace(ns),
        config_map("together", ns, wave=1),
        hook_job("alongside", ns, "Sync", generate=False, wave=1),
        config_map("after", ns, wave=2),
    ]

    first = sync(live, bundle)

    assert [(str(c.key), c.action, c.message) for c in first.changes] == [
        (f"core/Namespace/_/{ns}", ChangeAction.CREATED, ""),
        (f"core/ConfigMap/{ns}/together", ChangeAction.CREATED, ""),
        (
            f"core/ConfigMap/{ns}/after",
            ChangeAction.SKIPPED,
            "waiting for Sync hooks before wave 2",
        ),
    ]
    assert isinstance(first.waiting, HookWait) and first.waiting.applied is False
    assert str(first.waiting) == (
        f"waiting for Sync hooks: batch/Job/{ns}/alongside running "
        f"(job is running; kubectl logs job/alongside -n {ns})"
    )
    if live.simulated:  # the wave's hooks are created as the walk enters it, then its objects
        writes = [
            (r.verb, r.resource)
            for r in live.sim.request_log()
            if not r.dry_run
            and r.verb in ("create", "apply")
            and (r.resource == "jobs" or r.name == "together")
            and r.namespace == ns
        ]
        assert writes == [("create", "jobs"), ("apply", "configmaps")], writes
