"""The rollout planner as tables: state, clock and what the clusters report in; what to
reconcile, and the state it moves to, out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleetsync.shared.model.declaration import FailurePolicy, RolloutPolicy
from fleetsync.shared.model.ids import ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import (
    ClusterProgress,
    Phase,
    Rollout,
    RolloutPlan,
    Verdict,
    Wave,
)
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.planning.rollout import (
    Observation,
    RolloutError,
    Situation,
    abort,
    advance,
    pause,
    promote,
    resume,
)
from fleetsync.shared.planning.windows import Hold

NEW = Digest("new")
OLD = Digest("old")
C = [ClusterName(f"c{i}") for i in range(6)]
PLAN = RolloutPlan(
    (Wave("canary", (C[0],)), Wave("half", (C[1], C[2])), Wave("rest", tuple(C[3:])))
)
POLICY = RolloutPolicy(bake=60, progress_deadline=100, max_failures=0)
T0 = 1000.0


def rollout(**changes: object) -> Rollout:
    base = Rollout(
        id="r1",
        application="web",
        revision=Revision("main", "b" * 40),
        digest=NEW,
        started_at=T0,
        waves=3,
        wave_started_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ready(at: float, digest: Digest = NEW) -> Observation:
    return Observation(SyncState.SYNCED, Health.HEALTHY, digest, at)


def seen(
    health: Health, at: float, *, sync: SyncState = SyncState.SYNCED, **kw: object
) -> Observation:
    return Observation(sync, health, NEW, at, **kw)  # type: ignore[arg-type]


def reached(
    at: float, verdict: Verdict = Verdict.PENDING, since: float | None = None
) -> ClusterProgress:
    return ClusterProgress(released_at=at, verdict=verdict, since=since)


def situation(r: Rollout, progress: dict[ClusterName, ClusterProgress], **kw: object) -> Situation:
    return Situation(rollout=r, plan=PLAN, policy=kw.pop("policy", POLICY), progress=progress, **kw)  # type: ignore[arg-type]


# (what happens, rollout, progress, observed, now, phase, wave, reconciled)
TABLE = [
    (
        "a new rollout reaches the first wave",
        rollout(),
        {},
        {},
        T0,
        Phase.PROGRESSING,
        0,
        [C[0]],
    ),
    (
        "a reached cluster with no status yet is waited for",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: None},
        T0 + 5,
        Phase.PROGRESSING,
        0,
        [],
    ),
    (
        "a status from before it was reached does not count",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: ready(T0 - 1)},
        T0 + 5,
        Phase.PROGRESSING,
        0,
        [],
    ),
    (
        "Synced and Healthy at the previous state does not count",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: ready(T0 + 1, OLD)},
        T0 + 5,
        Phase.PROGRESSING,
        0,
        [],
    ),
    (
        "a reached cluster still on the previous state gets its reconcile again",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: ready(T0 + 1, OLD)},
        T0 + 20,
        Phase.PROGRESSING,
        0,
        [C[0]],
    ),
    (
        "the wave Synced and Healthy starts its bake",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: ready(T0 + 3)},
        T0 + 5,
        Phase.BAKING,
        0,
        [],
    ),
    (
        "a bake not over yet keeps the wave",
        rollout(phase=Phase.BAKING, bake_started_at=T0 + 5),
        {C[0]: reached(T0, Verdict.READY, T0 + 5)},
        {C[0]: ready(T0 + 3)},
        T0 + 64,
        Phase.BAKING,
        0,
        [],
    ),
    (
        "after the bake the next wave is reached, all of it",
        rollout(phase=Phase.BAKING, bake_started_at=T0 + 5),
        {C[0]: reached(T0, Verdict.READY, T0 + 5)},
        {C[0]: ready(T0 + 3)},
        T0 + 65,
        Phase.PROGRESSING,
        1,
        [C[1], C[2]],
    ),
    (
        "a promoted wave goes on without the rest of its bake",
        rollout(phase=Phase.BAKING, bake_started_at=T0 + 5, promoted=0),
        {C[0]: reached(T0, Verdict.READY, T0 + 5)},
        {C[0]: ready(T0 + 3)},
        T0 + 6,
        Phase.PROGRESSING,
        1,
        [C[1], C[2]],
    ),
    (
        "a cluster leaving Healthy during the bake stops the bake",
        rollout(phase=Phase.BAKING, bake_started_at=T0 + 5),
        {C[0]: reached(T0, Verdict.READY, T0 + 5)},
        {C[0]: seen(Health.PROGRESSING, T0 + 30)},
        T0 + 40,
        Phase.PROGRESSING,
        0,
        [],
    ),
    (
        "the last wave ready completes the rollout without a bake",
        rollout(wave=2),
        {c: reached(T0) for c in C[3:]},
        {c: ready(T0 + 1) for c in C[3:]},
        T0 + 2,
        Phase.COMPLETE,
        3,
        [],
    ),
    (
        "a Degraded cluster fails and stops the rollout (pause)",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: seen(Health.DEGRADED, T0 + 2, message="crash loop")},
        T0 + 3,
        Phase.PAUSED,
        0,
        [],
    ),
    (
        "a failed sync fails the cluster",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: seen(Health.HEALTHY, T0 + 2, sync=SyncState.OUT_OF_SYNC, sync_failed=True)},
        T0 + 3,
        Phase.PAUSED,
        0,
        [],
    ),
    (
        "a cluster not ready within the progress deadline fails",
        rollout(),
        {C[0]: reached(T0)},
        {C[0]: seen(Health.PROGRESSING, T0 + 2)},
        T0 + 100,
        Phase.PAUSED,
        0,
        [],
    ),
    (
        "paused rollouts do not move",
        rollout(phase=Phase.PAUSED, reason="paused by the operator"),
        {C[0]: reached(T0)},
        {C[0]: ready(T0 + 1)},
        T0 + 500,
        Phase.PAUSED,
        0,
        [],
    ),
]


@pytest.mark.parametrize(
    ("r", "progress", "observed", "now", "phase", "wave", "reconciled"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_one_step_of_a_rollout(
    r: Rollout,
    progress: dict[ClusterName, ClusterProgress],
    observed: dict[ClusterName, Observation | None],
    now: float,
    phase: Phase,
    wave: int,
    reconciled: list[ClusterName],
) -> None:
    step = advance(situation(r, progress, observed=observed), now)
    assert (step.rollout.phase, step.rollout.wave, list(step.reconcile)) == (
        phase,
        wave,
        reconciled,
    )


def test_max_parallel_bounds_the_clusters_pending_at_once() -> None:
    policy = replace(POLICY, max_parallel=1)
    r = rollout(wave=2)
    first = advance(situation(r, {}, policy=policy), T0)
    assert first.reconcile == (C[3],)
    waiting = advance(situation(first.rollout, dict(first.progress), policy=policy), T0 + 1)
    assert waiting.reconcile == ()
    progress = dict(first.progress)
    freed = advance(
        situation(first.rollout, progress, policy=policy, observed={C[3]: ready(T0 + 1)}), T0 + 2
    )
    assert freed.reconcile == (C[4],) and freed.progress[C[3]].verdict is Verdict.READY


def test_more_failures_than_max_failures_stop_the_rollout_naming_each_failed_cluster() -> None:
    policy = replace(POLICY, max_failures=1)
    r = rollout(wave=1)
    progress = {C[1]: reached(T0), C[2]: reached(T0)}
    one = advance(
        situation(
            r,
            progress,
            policy=policy,
            observed={C[1]: seen(Health.DEGRADED, T0 + 1), C[2]: ready(T0 + 1)},
        ),
        T0 + 2,
    )
    # One failure is tolerated: the wave goes on to bake with its ready cluster.
    assert one.rollout.phase is Phase.BAKING
    two = advance(
        situation(
            r,
            progress,
            policy=policy,
            observed={c: seen(Health.DEGRADED, T0 + 1, message="boom") for c in C[1:3]},
        ),
        T0 + 2,
    )
    assert two.rollout.phase is Phase.PAUSED and two.rollout.paused_by == "failures"
    assert "2 clusters failed, more than maxFailures 1" in two.rollout.reason
    assert "c1: Degraded: boom" in two.rollout.reason and "c2: Degraded: boom" in two.rollout.reason


def test_on_failure_rollback_returns_every_reached_cluster() -> None:
    policy = replace(POLICY, on_failure=FailurePolicy.ROLLBACK)
    r = rollout(wave=1)
    progress = {C[0]: reached(T0, Verdict.READY, T0), C[1]: reached(T0), C[2]: reached(T0)}
    step = advance(
        situation(r, progress, policy=policy, observed={C[1]: seen(Health.DEGRADED, T0 + 1)}),
        T0 + 2,
    )
    assert step.rollout.phase is Phase.ROLLED_BACK
    assert set(step.reconcile) == {C[0], C[1], C[2]}


def test_clusters_held_by_a_window_wait_and_the_rollout_says_why_and_until_when() -> None:
    hold = Hold("deny window 'weekend' is open until 2026-03-09 07:00 UTC", T0 + 300, False, False)
    step = advance(situation(rollout(), {}, blocked={C[0]: hold}), T0)
    assert step.reconcile == () and step.rollout.phase is Phase.PROGRESSING
    assert "1 clusters wait: deny window 'weekend'" in step.rollout.reason
    assert step.next_check <= T0 + 300


def test_a_held_application_does_not_move_and_says_why() -> None:
    step = advance(situation(rollout(), {}, held="the application is suspended"), T0)
    assert step.reconcile == () and step.rollout.reason == "the application is suspended"


def test_operator_actions() -> None:
    r = rollout(phase=Phase.BAKING, bake_started_at=T0)
    paused = pause(r, T0 + 1)
    assert paused.phase is Phase.PAUSED and paused.paused_by == "operator"
    with pytest.raises(RolloutError, match="already paused"):
        pause(paused, T0 + 2)
    with pytest.raises(RolloutError, match="resume it before promoting"):
        promote(paused, T0 + 2)
    resumed = resume(paused, PLAN, {C[0]: reached(T0, Verdict.READY, T0)}, T0 + 3)
    assert resumed.rollout.phase is Phase.BAKING and resumed.reconcile == ()
    assert promote(r, T0 + 4).promoted == 0
    aborted = abort(r, {C[0]: reached(T0)}, T0 + 5)
    assert aborted.rollout.phase is Phase.ABORTED and aborted.reconcile == (C[0],)
    with pytest.raises(RolloutError, match="no rollout in progress to promote"):
        promote(aborted.rollout, T0 + 6)


def test_resuming_after_failures_gives_the_failed_clusters_a_new_chance() -> None:
    r = rollout(wave=1, phase=Phase.PAUSED, paused_by="failures")
    progress = {C[1]: reached(T0, Verdict.FAILED, T0 + 5), C[2]: reached(T0, Verdict.READY, T0)}
    step = resume(r, PLAN, progress, T0 + 50)
    assert step.rollout.phase is Phase.PROGRESSING and step.reconcile == (C[1],)
    assert step.progress[C[1]] == ClusterProgress(released_at=T0 + 50)
