"""Server-side apply of a bundle: prepare, validate, then write step by step.

1. `prepare_targets` turns each manifest into a `Target` (see `targets`). A kind the cluster does
   not serve is an error, unless a CRD in the same bundle defines it; a namespace that neither
   exists nor is in the bundle is an error, unless it is the application's own namespace under
   `sync.createNamespace` (whether a namespace the bundle declares exists is read with the
   bundle's Namespaces). Objects that depend on stage 1 (a kind from a bundled CRD, a namespace
   the bundle creates) are deferred: they cannot be validated before stage 1 is applied.
2. `check_targets` is the validation pass. `read.read_live` reads the live objects with one LIST
   per kind; an object whose `fleetsync.io/application` names another application is a conflict,
   never taken over. An object `unchanged.unchanged` can tell applying leaves as it is passes with
   no request of its own; every other goes through a server-side dry-run apply (validation,
   conflicts with other field managers). A dry-run refused only because fields that cannot change
   in place changed is a replacement with `sync.replace: onImmutable`, a failure naming the fields
   otherwise (see `replace`). Every failure is collected, and any failure means nothing is
   written. The dry-run result decides "unchanged" for the rest: when applying would leave the
   live object as it is (`diff.same_live_state`), the object is not written at all, so a no-op
   sync issues no write, not even a dry-run, and keeps every resourceVersion.
   With `sole_change_validates` (a sync without hooks or deferred objects), one dry-run is
   spared: when a single object of the bundle needs the server's word, exists live, visibly
   differs from the manifest (`diff.drifted`) and no wave can stop the walk before it,
   nothing else would be written before it, so its apply is its own validation
   (`Checked.unvalidated`). The server refuses an invalid object, a conflict or an
   immutable-field change at the apply exactly as at the dry-run, writing nothing;
   `apply_checked` then fails it, names the fields that cannot change in place, or replaces the
   object under `sync.replace: onImmutable`, as the dry-run path does. The object changed in a
   fleet-wide change costs one request, not two.
3. `apply_staged` walks the plan's steps: writes what changed, waits for the CRDs it wrote to be
   Established and refreshes discovery, validates the deferred objects before the first stage-2
   write (a second gate), and stops before a wave whose earlier waves are not healthy yet (see
   `waves`). A failure finishes the step it is in and skips every later step. A `WaveGate` (a
   sync's Sync hooks) adds waits of its own: its waves are steps too (empty when no object is
   in them), and once the earlier waves are healthy, it says whether the walk may enter a wave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import (
    ClusterClient,
    ObjectForbidden,
    RequestRejected,
    UnknownKindError,
)
from fleetsync.shared.kube.crd import defined_kinds, is_crd
from fleetsync.shared.kube.diff import drifted, same_live_state
from fleetsync.shared.kube.health import NO_FACTS
from fleetsync.shared.kube.ownership import owner_of
from fleetsync.shared.kube.plan import (
    NAMESPACE,
    Stage,
    Step,
    group_kind,
    plan_apply,
    stage_of,
    wave_of,
)
from fleetsync.shared.kube.read import first_lists, read_facts, read_live
from fleetsync.shared.kube.read_ahead import Read
from fleetsync.shared.kube.replace import immutable_fields, immutable_message, replace_object
from fleetsync.shared.kube.targets import (
    NAMESPACES,
    Target,
    failed,
    locate,
    namespace_target,
)
from fleetsync.shared.kube.unchanged import unchanged
from fleetsync.shared.kube.wait import Watched, wait_established
from fleetsync.shared.kube.waves import WaveStop, stop_before, waves_of
from fleetsync.shared.model import ChangeAction, ResourceKey

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Options:
    """How one application's objects are applied."""

    app: str
    force: bool = True
    """Take fields over from other field managers (`sync.forceConflicts`)."""
    replace_immutable: bool = False
    """Delete and recreate an object whose immutable fields changed (`sync.replace`)."""
    timeout: float = 120.0
    """Bound of each wait inside a sync (CRDs Established, a replaced object gone)."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A target that passed the validation pass, with what applying it would do."""

    target: Target
    live: Manifest | None
    after: Manifest | None
    """The server's dry-run result: the object as applying it would leave it (None when the
    object is to be replaced: no dry-run can show that)."""
    immutable: tuple[str, ...] = ()
    """The fields that cannot change in place and changed: the object is replaced."""
    unvalidated: bool = False
    """No dry-run was made: the bundle's only changed object, whose apply validates it (see
    `check_targets`); `apply_checked` handles a refusal as the validation pass would have."""

    @property
    def action(self) -> ChangeAction:
        if self.live is None:
            return ChangeAction.CREATED
        if self.immutable:
            return ChangeAction.REPLACED
        if self.unvalidated:
            return ChangeAction.CONFIGURED
        if self.after is None or same_live_state(self.after, self.live):
            return ChangeAction.UNCHANGED
        return ChangeAction.CONFIGURED


@dataclass(frozen=True, slots=True)
class Prepared:
    targets: tuple[Target, ...] = ()
    failures: tuple[Change, ...] = ()
    live: Mapping[ResourceKey, Manifest | None] = field(default_factory=dict)
    """What was read of the targets while preparing them (the bundle's Namespaces)."""

    @property
    def ready(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if not t.deferred)

    @property
    def deferred(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.deferred)


@dataclass(frozen=True, slots=True)
class Applied:
    changes: ChangeSet = field(default_factory=ChangeSet)
    live: Mapping[ResourceKey, Manifest | None] = field(default_factory=dict)
    """Every target's object as last seen (after its apply, or its live copy when unchanged)."""
    stopped: WaveStop | None = None
    """The wave the apply stopped before, waiting for earlier waves to become healthy."""
    gated: int | None = None
    """The wave the apply stopped before because its `WaveGate` kept it closed."""

    @property
    def failed(self) -> bool:
        return bool(self.changes.failed)


class WaveGate(Protocol):
    """What else a staged apply waits for between waves (a sync's Sync hooks)."""

    @property
    def waves(self) -> tuple[int, ...]:
        """The waves it acts at: each is a step of the walk, empty when no object is in it."""
        ...

    def opens(self, wave: int) -> bool:
        """Whether the walk may enter `wave` now (asked once every earlier wave is healthy)."""
        ...


# -- 1. prepare --------------------------------------------------------------------------------


def prepare_targets(
    client: ClusterClient,
    objects: Sequence[Manifest],
    *,
    app: str,
    namespace: str | None,
    create_namespace: bool = False,
) -> Prepared:
    """Resolve, place and mark every object; collect every object that cannot be. With
    `create_namespace`, the application's `namespace` is a target too when the bundle does not
    declare it."""
    located, declared = _locate_all(
        client, objects, app=app, namespace=namespace, create_namespace=create_namespace
    )
    seen = read_live(client, list(declared.values()))
    namespace_exists = {name: seen[t.key] is not None for name, t in declared.items()}
    placed: set[ResourceKey] = set()
    targets: list[Target] = []
    failures: list[Change] = []
    for target in located:
        if isinstance(target, Change):
            failures.append(target)
            continue
        ns = target.key.namespace
        if ns and ns not in namespace_exists:
            namespace_exists[ns] = client.get(NAMESPACES, name=ns) is not None
        if ns and not namespace_exists[ns]:
            if ns not in declared:
                failures.append(failed(target.key, _no_namespace(client, ns, namespace)))
                continue
            target = replace(target, deferred=True)
        if target.key in placed:
            failures.append(failed(target.key, "declared twice in the bundle once namespaced"))
            continue
        placed.add(target.key)
        targets.append(target)
    return Prepared(targets=tuple(targets), failures=tuple(failures), live=seen)


def first_reads(
    client: ClusterClient,
    objects: Sequence[Manifest],
    *,
    app: str,
    namespace: str | None,
    create_namespace: bool = False,
) -> list[Read]:
    """What `prepare_targets` then `check_targets` read first for `objects` (see
    `kube/read_ahead.py`): the Namespaces the bundle declares, each other namespace its objects
    go to, and a LIST per kind of its other objects, those in a namespace the bundle declares
    counted as not deferred (the namespace exists, as it does once applied)."""
    located, declared = _locate_all(
        client, objects, app=app, namespace=namespace, create_namespace=create_namespace
    )
    namespaces = [t.key for t in declared.values()]
    targets = [t for t in located if isinstance(t, Target) and t.key not in namespaces]
    reads = first_lists(list(declared.values()))
    used = dict.fromkeys(t.key.namespace for t in targets if t.key.namespace)
    reads += [Read(NAMESPACES, name=ns) for ns in used if ns not in declared]
    return reads + first_lists([t for t in targets if not t.deferred])


def _locate_all(
    client: ClusterClient,
    objects: Sequence[Manifest],
    *,
    app: str,
    namespace: str | None,
    create_namespace: bool,
) -> tuple[list[Target | Change], dict[str, Target]]:
    """Every object located (or its failure), and the namespaces the sync provides by name:
    the bundle's, and the application's own under `create_namespace`."""
    bundled = defined_kinds(objects)
    located: list[Target | Change] = []
    for obj in objects:
        try:
            located.append(locate(client, obj, app=app, namespace=namespace, bundled=bundled))
        except UnknownKindError as e:
            located.append(failed(ResourceKey.of(obj), str(e)))
    declared = {
        t.key.name: t for t in located if isinstance(t, Target) and group_kind(t.obj) == NAMESPACE
    }
    if create_namespace and namespace and namespace not in declared:
        declared[namespace] = namespace_target(namespace, app=app)
        located.insert(0, declared[namespace])
    return located, declared


def _no_namespace(client: ClusterClient, ns: str, app_namespace: str | None) -> str:
    fix = f"add a Namespace {ns} to the bundle or create it"
    if ns == app_namespace:
        fix += ", or set sync.createNamespace: true"
    return f"namespace {ns} does not exist on cluster {client.name} and the bundle does not " + (
        f"declare it; {fix}"
    )


# -- 2. validate -------------------------------------------------------------------------------


def check_targets(
    client: ClusterClient,
    targets: Iterable[Target],
    options: Options,
    *,
    known: Mapping[ResourceKey, Manifest | None] | None = None,
    sole_change_validates: bool = False,
) -> tuple[tuple[Checked, ...], tuple[Change, ...]]:
    """The validation pass: (objects that may be applied, every object that may not).

    `known` holds live objects already read (by `prepare_targets`); the rest are read here.
    `sole_change_validates`: the targets are all of a sync's objects and nothing (no hook, no
    deferred object) is written apart from them; when only one of them changes, its dry-run is
    left to its apply (see the module's docstring)."""
    targets = tuple(targets)
    lives = read_live(client, targets, known=known)
    local = [_check_locally(t, options, live=lives[t.key]) for t in targets]
    asking = [t for t, result in zip(targets, local, strict=True) if result is None]
    sole = asking[0] if len(asking) == 1 and sole_change_validates else None
    if sole is not None and not _applies_first(sole, targets, lives[sole.key]):
        sole = None
    checked: list[Checked] = []
    failures: list[Change] = []
    for target, decided in zip(targets, local, strict=True):
        result: Checked | Change
        if decided is not None:
            result = decided
        elif target is sole:
            result = Checked(target=target, live=lives[target.key], after=None, unvalidated=True)
        else:
            result = _dry_run(client, target, options, lives[target.key])
        if isinstance(result, Change):
            failures.append(result)
        else:
            checked.append(result)
    return tuple(checked), tuple(failures)


def _applies_first(target: Target, targets: Sequence[Target], live: Manifest | None) -> bool:
    """Whether `target` may skip its dry-run as a sync's only changed object: it is live (an
    update, whose refusal writes nothing; a create also writes the inventory copy first), it
    certainly changes (a doubt of `unchanged` that applying would settle as a no-op would
    otherwise become a write), and the walk cannot stop before it (it is in stage 1, or in
    the first wave of stage 2: `waves.stop_before` never stops there)."""
    if live is None or target.create_only or not drifted(target.obj, live):
        return False
    if stage_of(target.obj) is Stage.DEFINITIONS:
        return True
    steps = plan_apply(t.obj for t in targets)
    return wave_of(target.obj) == waves_of(steps)[0]


def _check_locally(
    target: Target, options: Options, *, live: Manifest | None
) -> Checked | Change | None:
    """What can be decided without asking the server (a conflict, an object that applying
    leaves as it is), or None: the server's dry-run decides."""
    if target.create_only and live is not None:
        return Checked(target=target, live=live, after=live)
    owner = owner_of(live) if live is not None else None
    if owner is not None and owner != options.app:
        return failed(
            target.key,
            f"conflict: owned by fleetsync application {owner!r}; not taken over "
            "(declare it in one application only)",
        )
    if live is not None and unchanged(target.obj, live):
        return Checked(target=target, live=live, after=live)
    return None


def _dry_run(
    client: ClusterClient, target: Target, options: Options, live: Manifest | None
) -> Checked | Change:
    try:
        after = client.apply(target.resource, target.obj, force=options.force, dry_run=True)
    except ObjectForbidden as e:
        return failed(target.key, f"apply {e.refusal()}")
    except RequestRejected as e:
        return _refusal(target, options, live, e, doing="dry-run")
    return Checked(target=target, live=live, after=after)


def _refusal(
    target: Target, options: Options, live: Manifest | None, e: RequestRejected, *, doing: str
) -> Checked | Change:
    """A refused (dry-run) apply: a replacement when only fields that cannot change in place
    changed and `sync.replace: onImmutable` allows it, else the object's failure."""
    fields = immutable_fields(e) if live is not None else ()
    if not fields:
        return failed(target.key, f"{doing} failed: {e}")
    if not options.replace_immutable:
        return failed(target.key, immutable_message(fields, e))
    return Checked(target=target, live=live, after=None, immutable=fields)


# -- 3. write ----------------------------------------------------------------------------------


def apply_checked(
    client: ClusterClient, checked: Checked, options: Options
) -> tuple[Change, Manifest | None]:
    """Write one validated object unless it is unchanged; (change, object as it is now)."""
    key, action = checked.target.key, checked.action
    if action is ChangeAction.UNCHANGED:
        return Change(key, action), checked.live
    if action is ChangeAction.REPLACED:
        problem, now = replace_object(
            client,
            key,
            checked.target.resource,
            checked.target.obj,
            force=options.force,
            timeout=options.timeout,
            live=checked.live,
        )
        if problem is not None:
            return failed(key, problem), now
        return Change(key, action, f"{', '.join(checked.immutable)} cannot change in place"), now
    try:
        result = client.apply(checked.target.resource, checked.target.obj, force=options.force)
    except ObjectForbidden as e:
        return failed(key, f"apply {e.refusal()}"), checked.live
    except RequestRejected as e:
        if not checked.unvalidated:
            return failed(key, f"apply failed: {e}"), checked.live
        refusal = _refusal(checked.target, options, checked.live, e, doing="apply")
        if isinstance(refusal, Change):
            return refusal, checked.live
        return apply_checked(client, refusal, options)
    if checked.unvalidated and checked.live is not None and same_live_state(result, checked.live):
        return Change(key, ChangeAction.UNCHANGED), result
    return Change(key, action), result


def apply_staged(
    client: ClusterClient,
    options: Options,
    *,
    checked: Sequence[Checked],
    deferred: Sequence[Target],
    gate: WaveGate | None = None,
) -> Applied:
    """Apply validated objects (and deferred ones, validated after stage 1) in plan order,
    stopping before a wave whose earlier waves are not healthy yet, or that `gate` keeps
    closed."""
    ready = {c.target.key: c for c in checked}
    pending = {t.key: t for t in deferred}
    changes: list[Change] = []
    live: dict[ResourceKey, Manifest | None] = {k: c.live for k, c in ready.items()}
    steps = plan_apply([*(c.target.obj for c in checked), *(t.obj for t in deferred)])
    if gate is not None:
        steps = with_waves(steps, gate.waves)
    waves = waves_of(steps)
    earlier: list[ResourceKey] = []
    for index, step in enumerate(steps):
        keys = [ResourceKey.of(o) for o in step.objects]
        if pending and (step.stage is Stage.RESOURCES or any(k in pending for k in keys)):
            more, failures = _check_deferred(client, pending.values(), options)
            if failures:
                return _stopped(
                    changes,
                    failures,
                    steps[index:],
                    live,
                    reason="not applied: a deferred object failed validation",
                )
            ready.update((c.target.key, c) for c in more)
            live.update((c.target.key, c.live) for c in more)
            pending.clear()
        facts = read_facts(client, [live.get(k) for k in earlier]) if earlier else None
        stop = stop_before(step, earlier, live, waves=waves, facts=facts or NO_FACTS)
        if stop is not None:
            result = _stopped(
                changes, (), steps[index:], live, reason=f"waiting for wave {stop.wave}"
            )
            return replace(result, stopped=stop)
        if gate is not None and step.stage is Stage.RESOURCES and not gate.opens(step.wave):
            reason = f"waiting for Sync hooks before wave {step.wave}"
            result = _stopped(changes, (), steps[index:], live, reason=reason)
            return replace(result, gated=step.wave)
        problem = _apply_step(client, options, keys, ready, changes, live)
        if problem is not None:
            _fail_change(changes, *problem)
        if any(c.action is ChangeAction.FAILED for c in changes):
            return _stopped(
                changes, (), steps[index + 1 :], live, reason=f"not applied: step {step} failed"
            )
        if step.stage is not Stage.DEFINITIONS:
            earlier.extend(keys)
    return Applied(changes=ChangeSet.of(changes), live=live)


def with_waves(steps: Sequence[Step], waves: Iterable[int]) -> tuple[Step, ...]:
    """The steps, with an empty stage-2 step for each of `waves` no step is in."""
    present = {s.wave for s in steps if s.stage is Stage.RESOURCES}
    empty = [Step(Stage.RESOURCES, wave, ()) for wave in set(waves) - present]
    return tuple(sorted([*steps, *empty], key=lambda s: (int(s.stage), s.wave)))


def _apply_step(
    client: ClusterClient,
    options: Options,
    keys: Sequence[ResourceKey],
    ready: Mapping[ResourceKey, Checked],
    changes: list[Change],
    live: dict[ResourceKey, Manifest | None],
) -> tuple[ResourceKey, str] | None:
    """Write one step's objects; wait for the CRDs it wrote to be Established (then refresh
    discovery). Returns the CRD that did not get there, and why."""
    crds: list[Watched] = []
    for key in keys:
        change, now = apply_checked(client, ready[key], options)
        changes.append(change)
        live[key] = now
        written = change.action in (ChangeAction.CREATED, ChangeAction.CONFIGURED)
        if written and now is not None and is_crd(now):
            crds.append((key, ready[key].target.resource, now))
    if not crds:
        return None
    waited = wait_established(client, crds, timeout=options.timeout)
    live.update(waited.seen)
    client.invalidate_discovery()
    return waited.problem


def _fail_change(changes: list[Change], key: ResourceKey, why: str) -> None:
    """Turn the key's change into a failure that says what was done and what went wrong."""
    for i in range(len(changes) - 1, -1, -1):
        if changes[i].key == key:
            changes[i] = failed(key, f"{changes[i].action}, then {why}")
            return
    changes.append(failed(key, why))


def _check_deferred(
    client: ClusterClient, deferred: Iterable[Target], options: Options
) -> tuple[tuple[Checked, ...], tuple[Change, ...]]:
    """Resolve deferred targets again through discovery (their CRDs now exist) and check them."""
    resolved: list[Target] = []
    failures: list[Change] = []
    for target in deferred:
        try:
            resource = client.resolve(target.resource.api_version, target.resource.kind)
        except UnknownKindError as e:
            failures.append(failed(target.key, f"{e} (its CRD was applied but does not serve it)"))
            continue
        resolved.append(replace(target, resource=resource, deferred=False))
    checked, rejected = check_targets(client, resolved, options)
    return checked, (*failures, *rejected)


def _stopped(
    changes: list[Change],
    failures: Iterable[Change],
    skipped_steps: Iterable[Step],
    live: Mapping[ResourceKey, Manifest | None],
    *,
    reason: str,
) -> Applied:
    """The result of a staged apply stopped early: later objects reported as skipped."""
    failed_changes = list(failures)
    done = {c.key for c in changes} | {c.key for c in failed_changes}
    skipped = [
        Change(ResourceKey.of(o), ChangeAction.SKIPPED, reason)
        for step in skipped_steps
        for o in step.objects
        if ResourceKey.of(o) not in done
    ]
    return Applied(changes=ChangeSet.of([*changes, *failed_changes, *skipped]), live=dict(live))
