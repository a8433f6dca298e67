"""Hooks as the apply side sees them: split from the bundle, checked, judged, recorded."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.hookrun import HookResult, HookRun, HookState, HookWait, RunState
from fleetsync.shared.kube.hooks import applied_objects, hook_id, judge, split_hooks
from fleetsync.shared.kube.hooksync import current_run
from fleetsync.shared.kube.targets import bundle_problems
from fleetsync.shared.model import ResourceKey
from fleetsync.shared.model.hooks import DeletePolicy, HookPhase


def job(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": f"{name}-", "namespace": "web", "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"name": name, "image": "x"}]}}},
    }


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}}


def test_hooks_are_split_from_the_objects_one_per_phase_with_their_waves() -> None:
    objects, hooks = split_hooks(
        [
            CONFIGMAP,
            job("migrate", **{"argocd.argoproj.io/hook": "PreSync,SyncFail"}),
            job("seed", **{"helm.sh/hook": "post-install", "helm.sh/hook-weight": "3"}),
            job("tests", **{"helm.sh/hook": "test"}),
        ],
        app="web",
    )
    assert objects == (CONFIGMAP,)
    assert [(h.key.name, h.phase, h.wave) for h in hooks] == [
        ("migrate-", HookPhase.PRE_SYNC, 0),
        ("migrate-", HookPhase.SYNC_FAIL, 0),
        ("seed-", HookPhase.POST_SYNC, 3),
    ]
    assert hooks[0].ident != hooks[1].ident, "one hook per phase"
    assert hooks[2].policies == {DeletePolicy.BEFORE_HOOK_CREATION}


def test_the_objects_a_sync_applies_are_those_split_from_its_hooks_whatever_the_app() -> None:
    """A hook of an unusable phase stays with the objects (refused there); Skip and Helm tests
    are in neither."""
    unusable = job("odd", **{"argocd.argoproj.io/hook": "Sometimes"})
    bundle = [
        CONFIGMAP,
        job("migrate", **{"argocd.argoproj.io/hook": "PreSync"}),
        job("skipped", **{"argocd.argoproj.io/hook": "Skip"}),
        job("tests", **{"helm.sh/hook": "test"}),
        unusable,
    ]
    assert applied_objects(bundle) == (CONFIGMAP, unusable)
    assert split_hooks(bundle, app="web")[0] == split_hooks(bundle, app="api")[0]
    assert split_hooks(bundle, app="web")[0] == applied_objects(bundle)


def test_a_hook_s_identity_is_stable_and_names_its_application_phase_and_key() -> None:
    """A hook's objects are found again by this label across releases of fleetsync: a change
    of the identity would lose every hook in flight."""
    migrate = ResourceKey.parse("batch/Job/web/migrate")
    assert [
        hook_id("web", HookPhase.PRE_SYNC, migrate),
        hook_id("api", HookPhase.PRE_SYNC, migrate),
        hook_id("web", HookPhase.POST_SYNC, migrate),
        hook_id("web", HookPhase.PRE_SYNC, ResourceKey.parse("batch/Job/web/seed")),
    ] == ["66746517d0f447d8", "e28eedb05d3e70f3", "fd565bbfe359861c", "9b03a2bcbb69f7cd"]


def test_a_sync_wave_annotation_wins_over_a_helm_weight() -> None:
    _, (hook,) = split_hooks(
        [
            job(
                "seed",
                **{
                    "helm.sh/hook": "post-install",
                    "helm.sh/hook-weight": "3",
                    "argocd.argoproj.io/sync-wave": "-2",
                },
            )
        ],
        app="web",
    )
    assert hook.wave == -2


def test_the_apply_side_refuses_unknown_phases_and_generate_name_on_ordinary_objects() -> None:
    ordinary = {**CONFIGMAP, "metadata": {"generateName": "a-", "namespace": "web"}}
    problems = bundle_problems([job("m", **{"argocd.argoproj.io/hook": "Later"}), ordinary])
    assert [(str(p.key), p.message.split(";")[0]) for p in problems] == [
        ("batch/Job/web/m-", "annotation argocd.argoproj.io/hook: unknown hook phase 'Later'"),
        (
            "core/ConfigMap/web/a-",
            "metadata.generateName on an object that is not a hook: every sync would create a "
            "new object",
        ),
    ]
    assert bundle_problems([job("m", **{"argocd.argoproj.io/hook": "PreSync"})]) == ()


def test_a_hook_succeeded_failed_or_still_runs_by_its_kind() -> None:
    running = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "status": {}}
    assert judge(running) == (HookState.RUNNING, "job is running")
    failed = {**running, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert judge(failed) == (HookState.FAILED, "job failed")
    complete = {**running, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert judge(complete) == (HookState.SUCCEEDED, "job completed")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert judge({**pod, "status": {"phase": "Running"}}) == (HookState.RUNNING, "pod is Running")
    assert judge({**pod, "status": {}}) == (HookState.RUNNING, "pod is pending")
    assert judge({**pod, "status": {"phase": "Succeeded"}}) == (
        HookState.SUCCEEDED,
        "pod succeeded",
    )
    assert judge({**pod, "status": {"phase": "Failed"}}) == (HookState.FAILED, "pod failed")
    assert judge(CONFIGMAP) == (HookState.SUCCEEDED, "")


def test_a_pod_hook_that_cannot_start_fails_at_once_naming_its_container() -> None:
    # Still Pending, but its image cannot be pulled: waiting for the hook timeout would only
    # delay the same failure.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "migrate"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "migrate",
                    "ready": False,
                    "state": {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": 'Back-off pulling image "example/migrate:1"',
                        }
                    },
                }
            ],
        },
    }
    assert judge(pod) == (
        HookState.FAILED,
        'container migrate: Back-off pulling image "example/migrate:1"',
    )
    failed = {**pod, "status": {"phase": "Failed", "message": "the node was drained"}}
    assert judge(failed) == (HookState.FAILED, "the node was drained")


def test_a_run_record_survives_its_json_and_says_where_the_logs_are() -> None:
    result = HookResult(
        hook="h",
        key="batch/Job/web/migrate-",
        phase=HookPhase.PRE_SYNC,
        kind="Job",
        namespace="web",
        name="migrate-x7k2p",
        state=HookState.FAILED,
        message="BackoffLimitExceeded",
    )
    run = HookRun(bundle="d" * 64, state=RunState.FAILED, since=5.0, results=(result,), started=1)
    assert HookRun.from_json(run.to_json()) == run
    assert HookRun.from_json({"state": "nonsense"}) is None
    assert str(result) == (
        "PreSync hook batch/Job/web/migrate-x7k2p failed (BackoffLimitExceeded; "
        "kubectl logs job/migrate-x7k2p -n web)"
    )


def test_a_new_bundle_or_a_manual_retry_of_a_failed_run_starts_anew() -> None:
    _, hooks = split_hooks([job("m", **{"argocd.argoproj.io/hook": "PreSync"})], app="web")
    failed = HookRun(bundle="a", state=RunState.FAILED, since=1.0, started=1.0)
    assert current_run(failed, bundle="a", hooks=hooks, now=9.0, retry=False) is failed
    fresh = current_run(failed, bundle="a", hooks=hooks, now=9.0, retry=True)
    assert fresh is not None and fresh.state is RunState.PRE_SYNC and fresh.label != failed.label
    other = current_run(failed, bundle="b", hooks=hooks, now=9.0, retry=False)
    assert other is not None and other.bundle == "b"
    assert current_run(None, bundle="a", hooks=(), now=9.0, retry=False) is None


def test_a_hook_wait_looks_again_soon_then_less_often_never_past_the_deadline() -> None:
    wait = HookWait(HookPhase.PRE_SYNC, "x", since=0.0, deadline=600.0, applied=False)
    assert wait.recheck_in(1.0) == 2.0
    assert wait.recheck_in(200.0) == 15.0
    assert wait.recheck_in(599.0) == 1.5


def result(**fields: Any) -> HookResult:
    base: dict[str, Any] = {
        "hook": "h",
        "key": "batch/Job/web/migrate-",
        "phase": HookPhase.PRE_SYNC,
        "kind": "Job",
        "namespace": "web",
        "name": "migrate-x7k2p",
        "state": HookState.RUNNING,
    }
    return HookResult(**{**base, **fields})


def test_a_run_is_finished_once_it_succeeded_or_failed_and_only_then() -> None:
    assert [s for s in RunState if s.finished] == [RunState.SUCCEEDED, RunState.FAILED]


def test_a_hook_s_logs_are_named_for_jobs_and_pods_that_were_created_only() -> None:
    assert result(kind="Pod", namespace="").logs == "kubectl logs pod/migrate-x7k2p"
    assert result(kind="Job").logs == "kubectl logs job/migrate-x7k2p -n web"
    assert result(kind="ConfigMap").logs == ""
    assert result(name="").logs == ""


def test_a_hook_is_shown_by_its_live_name_with_every_part_of_its_detail() -> None:
    never_created = result(name="", state=HookState.FAILED, message="refused")
    assert never_created.shown == "batch/Job/web/migrate-"
    assert never_created.outcome == "PreSync hook failed (refused)"
    noted = result(
        phase=HookPhase.POST_SYNC,
        state=HookState.SUCCEEDED,
        message="job completed",
        note="not deleted: grant delete",
    )
    assert noted.brief == (
        "batch/Job/web/migrate-x7k2p succeeded (job completed; not deleted: grant delete; "
        "kubectl logs job/migrate-x7k2p -n web)"
    )
    assert str(noted) == f"PostSync hook {noted.brief}"
    assert result(kind="Secret").brief == "batch/Job/web/migrate-x7k2p running"


def test_a_result_s_json_holds_a_note_only_when_there_is_one_and_reads_back_without_one() -> None:
    plain = result(message="job is running")
    assert plain.to_json() == {
        "hook": "h",
        "key": "batch/Job/web/migrate-",
        "phase": "PreSync",
        "kind": "Job",
        "namespace": "web",
        "name": "migrate-x7k2p",
        "state": "Running",
        "message": "job is running",
    }
    noted = result(note="not deleted")
    assert noted.to_json()["note"] == "not deleted"
    assert HookResult.from_json(noted.to_json()) == noted
    bare = {k: v for k, v in plain.to_json().items() if k != "message"}
    assert HookResult.from_json({**bare, "note": None}) == result()


def test_a_run_record_without_its_optional_fields_reads_back_with_their_defaults() -> None:
    assert HookRun.from_json({"bundle": "b", "state": "Sync", "since": "5"}) == HookRun(
        bundle="b", state=RunState.SYNC, since=5.0, results=(), error="", started=0.0
    )
    assert HookRun.from_json({"bundle": "b", "state": "Sync", "since": None}) is None
    assert HookRun.from_json({"bundle": "b", "state": "Sync"}) is None
    assert HookRun.from_json(None) is None
    run = HookRun(bundle="b", state=RunState.FAILED, since=5.0, error="why", started=2.5)
    assert run.to_json() == {
        "bundle": "b",
        "state": "Failed",
        "since": 5.0,
        "results": [],
        "error": "why",
        "started": 2.5,
    }


def test_a_run_s_label_is_its_bundle_s_first_sixteen_characters_and_its_start_in_ms() -> None:
    run = HookRun(bundle="0123456789abcdefXYZ", state=RunState.SYNC, since=0.0, started=1.5)
    assert run.label == "0123456789abcdef-5dc"
    assert run.entering(RunState.POST_SYNC, 9.0) == HookRun(
        bundle=run.bundle, state=RunState.POST_SYNC, since=9.0, started=1.5
    )


def test_new_results_replace_those_of_the_same_hook_in_the_same_phase_only() -> None:
    pre = result(hook="a")
    post = result(hook="a", phase=HookPhase.POST_SYNC)
    other = result(hook="b")
    run = HookRun(bundle="b", state=RunState.SYNC, since=0.0, results=(pre, post, other))
    done = result(hook="a", state=HookState.SUCCEEDED)

    updated = run.with_results([done])

    assert updated.results == (post, other, done)
    assert updated.result_of("a", HookPhase.PRE_SYNC) == done
    assert updated.result_of("a", HookPhase.POST_SYNC) == post
    assert updated.result_of("a", HookPhase.SYNC) is None
    assert updated.result_of("c", HookPhase.PRE_SYNC) is None


def test_a_hook_wait_says_its_phase_and_paces_by_a_quarter_of_the_time_waited() -> None:
    wait = HookWait(HookPhase.SYNC, "x running", since=100.0, deadline=700.0, applied=True)
    assert str(wait) == "waiting for Sync hooks: x running"
    assert wait.recheck_in(100.0) == 2.0
    assert wait.recheck_in(108.0) == 2.0
    assert wait.recheck_in(120.0) == 5.0
    assert wait.recheck_in(160.0) == 15.0
    assert wait.recheck_in(699.9) == pytest.approx(0.6)
    assert wait.recheck_in(800.0) == 0.5


def test_a_fresh_run_starts_at_presync_now_and_a_succeeded_run_is_kept_even_on_retry() -> None:
    _, hooks = split_hooks([job("m", **{"argocd.argoproj.io/hook": "PreSync"})], app="web")
    fresh = current_run(None, bundle="a", hooks=hooks, now=9.0, retry=False)
    assert fresh == HookRun(bundle="a", state=RunState.PRE_SYNC, since=9.0, started=9.0)
    done = HookRun(bundle="a", state=RunState.SUCCEEDED, since=1.0, started=1.0)
    assert current_run(done, bundle="a", hooks=hooks, now=9.0, retry=True) is done


def test_a_bundle_whose_only_hooks_are_syncfail_has_a_run_and_one_of_postdelete_none() -> None:
    def hooks_of(phase: str) -> Any:
        return split_hooks([job("m", **{"argocd.argoproj.io/hook": phase})], app="web")[1]

    assert current_run(None, bundle="a", hooks=hooks_of("SyncFail"), now=1.0, retry=False)
    assert current_run(None, bundle="a", hooks=hooks_of("PostDelete"), now=1.0, retry=False) is None
