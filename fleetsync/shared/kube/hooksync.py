"""The hook steps of a sync: the run's phases around the apply, one reconcile at a time.

`sync.sync_application` calls `before_apply` once the bundle is validated (PreSync: nothing is
applied until its hooks Succeeded), walks the apply with a `SyncGate` (Sync hooks interleaved
with the objects' waves, as Argo CD orders a phase's hooks and objects by wave together),
`after_apply` once every object is applied (the last Sync hooks, then the wait for every object
to be Healthy, then PostSync hooks), and `fail_run` when the sync fails (SyncFail hooks are
created, the run is Failed naming the cause). Each step advances the run as far as it can and
says whether the sync goes on, waits (`HookWait`, continued by a later reconcile) or failed. Each
phase has the application's deadline, `sync.hookTimeout`, counted from when the run entered it;
in the Sync phase, from when its latest wave of hooks was created (the objects' waves between
them have their own deadline, `sync.waveTimeout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from fleetsync.shared.kube.client import ClusterClient
from fleetsync.shared.kube.health import SETTLED, ObjectHealth, describe_unhealthy
from fleetsync.shared.kube.hookrun import HookResult, HookRun, HookState, HookWait, RunState
from fleetsync.shared.kube.hooks import HookSpec, of_phase, run_phase, start_phase
from fleetsync.shared.model.hooks import SYNC_PHASES, HookPhase

_RUN_PHASES = frozenset({*SYNC_PHASES, HookPhase.SYNC_FAIL})


@dataclass(frozen=True, slots=True)
class Scope:
    """What every hook step of one sync works with."""

    client: ClusterClient
    hooks: Sequence[HookSpec]
    app: str
    namespace: str | None
    timeout: float
    """`sync.hookTimeout`: each phase's deadline, from when the run entered it."""
    now: float


@dataclass(frozen=True, slots=True)
class Step:
    """Where a hook step left the sync: `run` as it now stands, and a wait or a failure."""

    run: HookRun
    wait: HookWait | None = None
    failure: HookResult | str | None = None
    """The hook that failed (or why the run failed, when no hook did)."""

    @property
    def proceed(self) -> bool:
        return self.wait is None and self.failure is None


def current_run(
    previous: HookRun | None,
    *,
    bundle: str,
    hooks: Sequence[HookSpec],
    now: float,
    retry: bool,
) -> HookRun | None:
    """The run this sync continues or starts; None when the bundle has no hook a sync runs.

    A run of another bundle, or a Failed run when `retry` (a manual sync), is replaced by a
    fresh one."""
    if not any(h.phase in _RUN_PHASES for h in hooks):
        return None
    fresh = HookRun(bundle=bundle, state=RunState.PRE_SYNC, since=now, started=now)
    if previous is None or previous.bundle != bundle:
        return fresh
    if previous.state is RunState.FAILED and retry:
        return fresh
    return previous


def before_apply(scope: Scope, run: HookRun) -> Step:
    """PreSync: its hooks must all Succeed before anything is applied."""
    if run.state is not RunState.PRE_SYNC:
        return Step(run)
    step = _phase(scope, HookPhase.PRE_SYNC, run, applied=False)
    if step.proceed:
        return Step(step.run.entering(RunState.SYNC, scope.now))
    return step


class SyncGate:
    """The Sync hooks as the staged apply's `WaveGate`. The walk enters a wave once every Sync
    hook of an earlier wave Succeeded (the objects of earlier waves are Healthy by then: the
    apply waits for them first); entering it creates the wave's own hooks, which run beside the
    wave's objects. Where the hooks stand is `run`; why the walk stopped, `stop`."""

    def __init__(self, scope: Scope, run: HookRun) -> None:
        self.scope = scope
        self.run = run
        self.specs = of_phase(scope.hooks, HookPhase.SYNC) if run.state is RunState.SYNC else ()
        self.stop: Step | None = None

    @property
    def waves(self) -> tuple[int, ...]:
        return tuple(sorted({h.wave for h in self.specs}))

    def opens(self, wave: int) -> bool:
        due = [h for h in self.specs if h.wave <= wave]
        pending = [h for h in due if not self._succeeded(h)]
        if not pending:
            return True
        first = min(h.wave for h in pending)
        if all(self.run.result_of(h.ident, h.phase) is None for h in pending if h.wave == first):
            self.run = self.run.entering(RunState.SYNC, self.scope.now)
        deadline = self.run.since + self.scope.timeout
        outcome = run_phase(
            self.scope.client,
            due,
            app=self.scope.app,
            namespace=self.scope.namespace,
            run=self.run,
            deadline=deadline,
            now=self.scope.now,
            timeout=self.scope.timeout,
        )
        self.run = self.run.with_results(outcome.results)
        if outcome.state is HookState.FAILED:
            self.stop = Step(self.run, failure=outcome.failed[0])
            return False
        wave_of = {h.ident: h.wave for h in due}
        earlier = [r for r in outcome.running if wave_of.get(r.hook, wave) < wave]
        if not earlier:
            return True
        waiting_for = "; ".join(r.brief for r in earlier[:3])
        wait = HookWait(
            HookPhase.SYNC, waiting_for, since=self.run.since, deadline=deadline, applied=False
        )
        self.stop = Step(self.run, wait=wait)
        return False

    def _succeeded(self, spec: HookSpec) -> bool:
        result = self.run.result_of(spec.ident, spec.phase)
        return result is not None and result.state is HookState.SUCCEEDED


def after_apply(scope: Scope, run: HookRun, objects: Sequence[ObjectHealth]) -> Step:
    """Sync hooks, then every object Healthy, then PostSync hooks; the run Succeeded after."""
    now, timeout = scope.now, scope.timeout
    if run.state is RunState.SYNC:
        step = _phase(scope, HookPhase.SYNC, run, applied=True)
        if not step.proceed:
            return step
        run = step.run.entering(RunState.POST_SYNC, now)
    if run.state is not RunState.POST_SYNC:
        return Step(run)
    unhealthy = [o for o in objects if o.health not in SETTLED]
    if unhealthy:
        deadline = run.since + timeout
        if now >= deadline:
            why = (
                f"objects not healthy after {timeout:g}s (sync.hookTimeout), PostSync hooks "
                f"not run: {describe_unhealthy(unhealthy)}"
            )
            return Step(run, failure=why)
        wait = HookWait(
            phase=HookPhase.POST_SYNC,
            waiting_for=f"every object healthy first: {describe_unhealthy(unhealthy)}",
            since=run.since,
            deadline=deadline,
            applied=True,
        )
        return Step(run, wait=wait)
    step = _phase(scope, HookPhase.POST_SYNC, run, applied=True)
    if step.proceed:
        return Step(step.run.entering(RunState.SUCCEEDED, now))
    return step


def fail_run(scope: Scope, run: HookRun, why: str) -> HookRun:
    """The run Failed because of `why`: its SyncFail hooks are created (not waited for)."""
    failing = of_phase(scope.hooks, HookPhase.SYNC_FAIL)
    created = start_phase(scope.client, failing, app=scope.app, namespace=scope.namespace, run=run)
    if created:
        why += "; SyncFail hooks: " + ", ".join(str(r) for r in created)
    return replace(run.with_results(created).entering(RunState.FAILED, scope.now), error=why)


def start_post_delete(
    client: ClusterClient, *, app: str, bundle: str, hooks: Sequence[HookSpec], now: float
) -> tuple[HookResult, ...]:
    """Create the PostDelete hooks of the last bundle applied (its objects are gone); nobody
    follows them after: the application is gone, so their delete policies are not applied."""
    post_delete = of_phase(hooks, HookPhase.POST_DELETE)
    run = HookRun(bundle=bundle, state=RunState.SUCCEEDED, since=now, started=now)
    return start_phase(client, post_delete, app=app, namespace=None, run=run)


def _phase(scope: Scope, phase: HookPhase, run: HookRun, *, applied: bool) -> Step:
    specs = of_phase(scope.hooks, phase)
    if not specs:
        return Step(run)
    deadline = run.since + scope.timeout
    outcome = run_phase(
        scope.client,
        specs,
        app=scope.app,
        namespace=scope.namespace,
        run=run,
        deadline=deadline,
        now=scope.now,
        timeout=scope.timeout,
    )
    run = run.with_results(outcome.results)
    if outcome.state is HookState.FAILED:
        return Step(run, failure=outcome.failed[0])
    if outcome.state is HookState.RUNNING:
        waiting_for = "; ".join(r.brief for r in outcome.running[:3])
        wait = HookWait(phase, waiting_for, since=run.since, deadline=deadline, applied=applied)
        return Step(run, wait=wait)
    return Step(run)
