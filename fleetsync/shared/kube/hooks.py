"""Hooks on a cluster: split from the bundle, created at their phase, found again, judged.

`split_hooks` separates a bundle's hooks (see `fleetsync.shared.model.hooks` for the annotations)
from the objects a sync applies: hooks never enter the inventory, so prune never deletes them,
and drift and health checks do not look at them. A hook listed for several phases is one hook
per phase.

A hook is created (a POST, so `metadata.generateName` works), never patched: a Job's template
cannot change in place, and a hook is meant to run anew. fleetsync labels each hook it creates
with the hook's identity (`fleetsync.io/hook`: a hash of the application, phase and declared
key) and the run (`fleetsync.io/hook-run`: the bundle's digest, shortened, and when the run
began), and finds it again by those labels: a reconcile that continues a run never creates a
hook twice. Before creating it,
the hook's objects of earlier runs are deleted when its delete policy has BeforeHookCreation
(the default); once it finished, it is deleted when its policy says HookSucceeded or HookFailed.

`run_phase` advances one phase: the hooks of its first sync wave are created, and the next wave
only once every hook of the earlier waves Succeeded. A hook Succeeded when a Job is Complete, a
Pod Succeeded, any other kind Healthy; it Failed when a Job Failed, a Pod Failed, any other kind
is Degraded, or when the phase passed its deadline. It never waits: it says what is running.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fleetsync.shared.kube.client import (
    ClusterClient,
    ObjectForbidden,
    RequestRejected,
    UnknownKindError,
)
from fleetsync.shared.kube.health import assess_object
from fleetsync.shared.kube.hookrun import HookResult, HookRun, HookState
from fleetsync.shared.kube.ownership import owner_of
from fleetsync.shared.kube.plan import WAVE_ANNOTATIONS, wave_of
from fleetsync.shared.kube.targets import Target, locate
from fleetsync.shared.model import Health, ResourceKey
from fleetsync.shared.model.hooks import DeletePolicy, Hook, HookError, HookPhase, hook_of

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

HOOK_LABEL = "fleetsync.io/hook"
"""On every hook fleetsync creates: the hook's identity (`hook_id`)."""
RUN_LABEL = "fleetsync.io/hook-run"
"""On every hook fleetsync creates: the run it was created for (`HookRun.label`)."""
PHASE_LABEL = "fleetsync.io/hook-phase"


@dataclass(frozen=True, slots=True)
class HookSpec:
    """One hook of a bundle at one phase."""

    obj: Manifest
    phase: HookPhase
    wave: int
    policies: frozenset[DeletePolicy]
    key: ResourceKey
    """As declared (a generateName hook's prefix stands for its name)."""
    ident: str


@dataclass(frozen=True, slots=True)
class PhaseOutcome:
    state: HookState
    results: tuple[HookResult, ...]
    """Every hook of the phase met so far, in wave order."""

    @property
    def running(self) -> tuple[HookResult, ...]:
        return tuple(r for r in self.results if r.state is HookState.RUNNING)

    @property
    def failed(self) -> tuple[HookResult, ...]:
        return tuple(r for r in self.results if r.state is HookState.FAILED)


def hook_id(app: str, phase: HookPhase, key: ResourceKey) -> str:
    return hashlib.sha256(f"{app}|{phase}|{key}".encode()).hexdigest()[:16]


def split_hooks(
    objects: Iterable[Manifest], *, app: str
) -> tuple[tuple[Manifest, ...], tuple[HookSpec, ...]]:
    """(the objects a sync applies, the hooks), one spec per hook and phase. Objects never
    applied (`hook: Skip`, Helm tests) are in neither; a hook whose annotations fleetsync cannot
    act on is left with the objects, where `targets.bundle_problems` refuses it."""
    regular: list[Manifest] = []
    hooks: list[HookSpec] = []
    for obj in objects:
        hook = _hook(obj)
        if hook is None:
            regular.append(obj)
            continue
        key = ResourceKey.of(obj)
        wave = _wave(obj, hook.weight)
        hooks += [
            HookSpec(obj, phase, wave, hook.delete_policies, key, hook_id(app, phase, key))
            for phase in hook.phases
        ]
    return tuple(regular), tuple(hooks)


def applied_objects(objects: Iterable[Manifest]) -> tuple[Manifest, ...]:
    """The objects a sync applies: the first of `split_hooks`'s answer, which needs no
    application (only the hooks' ids name it)."""
    return tuple(obj for obj in objects if _hook(obj) is None)


def _hook(obj: Manifest) -> Hook | None:
    """The object's hook annotations; None for an object that is no hook, and for a hook
    fleetsync cannot act on (left with the objects, where `targets.bundle_problems` refuses it)."""
    try:
        return hook_of(obj)
    except HookError:
        return None


def _wave(obj: Manifest, weight: int | None) -> int:
    """The sync-wave annotation when present, else a Helm hook's weight, else 0."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if weight is not None and not any(name in annotations for name in WAVE_ANNOTATIONS):
        return weight
    return wave_of(obj)


def of_phase(hooks: Iterable[HookSpec], phase: HookPhase) -> tuple[HookSpec, ...]:
    return tuple(h for h in hooks if h.phase is phase)


def run_phase(
    client: ClusterClient,
    hooks: Sequence[HookSpec],
    *,
    app: str,
    namespace: str | None,
    run: HookRun,
    deadline: float,
    now: float,
    timeout: float,
) -> PhaseOutcome:
    """Advance one phase of `run` as far as it goes now: create, find and judge its hooks wave
    by wave (see the module docstring). Past `deadline`, hooks still running fail."""
    results: list[HookResult] = []
    for _, wave in itertools.groupby(sorted(hooks, key=_order), key=lambda h: h.wave):
        step = [_advance(client, spec, app=app, namespace=namespace, run=run) for spec in wave]
        if now >= deadline:
            step = [_timed_out(r, timeout) if r.state is HookState.RUNNING else r for r in step]
        results += step
        if any(r.state is HookState.FAILED for r in step):
            return PhaseOutcome(HookState.FAILED, tuple(results))
        if any(r.state is HookState.RUNNING for r in step):
            return PhaseOutcome(HookState.RUNNING, tuple(results))
    return PhaseOutcome(HookState.SUCCEEDED, tuple(results))


def start_phase(
    client: ClusterClient,
    hooks: Sequence[HookSpec],
    *,
    app: str,
    namespace: str | None,
    run: HookRun,
) -> tuple[HookResult, ...]:
    """Create every hook of a phase nobody waits for (SyncFail, PostDelete), all waves at once,
    in wave order; what each became."""
    return tuple(
        _advance(client, spec, app=app, namespace=namespace, run=run)
        for spec in sorted(hooks, key=_order)
    )


def _order(spec: HookSpec) -> tuple[int, str]:
    return (spec.wave, str(spec.key))


def _advance(
    client: ClusterClient, spec: HookSpec, *, app: str, namespace: str | None, run: HookRun
) -> HookResult:
    """The hook as it stands: found (and judged), or created when this run has not yet."""
    try:
        target = locate(client, spec.obj, app=app, namespace=namespace)
    except UnknownKindError as e:
        return _result(spec, None, HookState.FAILED, str(e))
    spec = replace(spec, key=target.key)
    label = run.label
    live = _find(client, target, spec, label)
    previous = run.result_of(spec.ident, spec.phase)
    if live is None and previous is not None and previous.state is not HookState.RUNNING:
        return previous  # finished, then deleted by its delete policy
    if live is None:
        created = _create(client, target, spec, app=app, label=label)
        if isinstance(created, HookResult):
            return created
        live = created
    state, message = judge(live)
    result = _result(spec, live, state, message, namespace=target.key.namespace)
    if state is not HookState.RUNNING:
        return _delete_by_policy(client, target, spec, live, result)
    return result


def judge(live: Manifest) -> tuple[HookState, str]:
    """Whether a hook's object Succeeded, Failed or still runs, and why."""
    if live.get("kind") == "Pod":
        phase = (live.get("status") or {}).get("phase")
        if phase == "Succeeded":
            return HookState.SUCCEEDED, "pod succeeded"
        health, message = assess_object(live)
        if phase == "Failed" or health is Health.DEGRADED:
            return HookState.FAILED, message
        return HookState.RUNNING, f"pod is {phase or 'pending'}"
    health, message = assess_object(live)
    if health is Health.HEALTHY:
        return HookState.SUCCEEDED, message
    if health is Health.DEGRADED:
        return HookState.FAILED, message
    return HookState.RUNNING, message


def _find(client: ClusterClient, target: Target, spec: HookSpec, label: str) -> Manifest | None:
    """The hook's object of this run, by its labels."""
    selector = f"{HOOK_LABEL}={spec.ident},{RUN_LABEL}={label}"
    found = client.list(target.resource, namespace=target.key.namespace, label_selector=selector)
    return found[0] if found else None


def _create(
    client: ClusterClient, target: Target, spec: HookSpec, *, app: str, label: str
) -> Manifest | HookResult:
    """Create the hook for this run (earlier runs' objects deleted first under
    BeforeHookCreation); the created object, or the result that says why it is not."""
    ns = target.key.namespace
    if DeletePolicy.BEFORE_HOOK_CREATION in spec.policies:
        earlier = client.list(
            target.resource, namespace=ns, label_selector=f"{HOOK_LABEL}={spec.ident}"
        )
        for old in earlier:
            _delete(client, target, old)
    named = str((target.obj.get("metadata") or {}).get("name") or "")
    if named:
        existing = client.get(target.resource, name=named, namespace=ns)
        if existing is not None:
            return _name_taken(client, target, spec, existing, app=app)
    body = _labelled(target.obj, spec, label)
    try:
        return client.create(target.resource, body)
    except ObjectForbidden as e:
        return _result(spec, None, HookState.FAILED, f"create {e.refusal()}", namespace=ns)
    except RequestRejected as e:
        if e.code == 409:
            return _result(spec, None, HookState.RUNNING, "waiting for the previous one to go")
        return _result(spec, None, HookState.FAILED, f"create refused: {e}", namespace=ns)


def _name_taken(
    client: ClusterClient, target: Target, spec: HookSpec, existing: Manifest, *, app: str
) -> HookResult:
    """A named hook whose name another object holds: deleted when it is this hook's (or this
    application's) and BeforeHookCreation allows, else the hook fails saying what to do."""
    ns = target.key.namespace
    metadata = existing.get("metadata") or {}
    ours = (metadata.get("labels") or {}).get(HOOK_LABEL) == spec.ident or owner_of(existing) == app
    if metadata.get("deletionTimestamp"):
        return _result(spec, None, HookState.RUNNING, "waiting for the previous one to go")
    if ours and DeletePolicy.BEFORE_HOOK_CREATION in spec.policies:
        _delete(client, target, existing)
        return _result(spec, None, HookState.RUNNING, "waiting for the previous one to go")
    if ours:
        why = (
            "exists from an earlier sync and its delete policy does not include "
            "BeforeHookCreation; delete it, or add BeforeHookCreation"
        )
    else:
        why = "the name is taken by an object this application did not create; rename the hook"
    return _result(spec, None, HookState.FAILED, why, namespace=ns)


def _labelled(obj: Manifest, spec: HookSpec, label: str) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        HOOK_LABEL: spec.ident,
        RUN_LABEL: label,
        PHASE_LABEL: spec.phase.value,
    }
    return {**obj, "metadata": metadata}


def _delete_by_policy(
    client: ClusterClient, target: Target, spec: HookSpec, live: Manifest, result: HookResult
) -> HookResult:
    """Delete a finished hook when its policy says so; `result`, with a note when RBAC forbade
    the delete: the hook ran and ended as it did, its object stays (a BeforeHookCreation
    delete RBAC forbids, in `_create`, fails instead: the hook could not run again)."""
    policy = (
        DeletePolicy.HOOK_SUCCEEDED
        if result.state is HookState.SUCCEEDED
        else DeletePolicy.HOOK_FAILED
    )
    if policy not in spec.policies:
        return result
    try:
        _delete(client, target, live)
    except ObjectForbidden as e:
        note = f"not deleted (hook-delete-policy {policy}): its delete was {e.refusal()}"
        return replace(result, note=note)
    return result


def _delete(client: ClusterClient, target: Target, live: Manifest) -> None:
    """Delete a hook's object, its dependents (a Job's Pods) after it."""
    metadata = live.get("metadata") or {}
    client.delete(
        target.resource,
        name=str(metadata.get("name")),
        namespace=str(metadata.get("namespace") or ""),
        propagation="Background",
    )


def _timed_out(result: HookResult, timeout: float) -> HookResult:
    message = f"did not complete within {timeout:g}s (sync.hookTimeout)" + (
        f": {result.message}" if result.message else ""
    )
    return replace(result, state=HookState.FAILED, message=message)


def _result(
    spec: HookSpec,
    live: Manifest | None,
    state: HookState,
    message: str,
    *,
    namespace: str | None = None,
) -> HookResult:
    metadata = (live or {}).get("metadata") or {}
    return HookResult(
        hook=spec.ident,
        key=str(spec.key),
        phase=spec.phase,
        kind=spec.key.kind,
        namespace=str(metadata.get("namespace") or namespace or spec.key.namespace),
        name=str(metadata.get("name") or ""),
        state=state,
        message=message,
    )
