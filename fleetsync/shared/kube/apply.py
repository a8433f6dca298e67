"""Server-side apply of a bundle: prepare, validate, then write step by step.

1. `prepare_targets` turns each manifest into a `Target`: resolved through discovery, placed in a
   namespace (the application's default for a namespaced object that names none), and marked with
   fleetsync's label and annotation. A kind the cluster does not serve is an error, unless a CRD
   in the same bundle defines it; a namespace that neither exists nor is in the bundle is an error
   (whether a namespace the bundle declares exists is read with the bundle's Namespaces, below).
   Objects that depend on stage 1 (a kind from a bundled CRD, a namespace the bundle creates) are
   deferred: they cannot be validated before stage 1 is applied.
2. `check_targets` is the validation pass. `read_live` reads the live objects with one LIST per
   kind of fleetsync-labelled objects (a GET for each object no LIST showed); an object whose
   `fleetsync.io/application` names another application is a conflict, never taken over. An
   object `unchanged.unchanged` can tell applying leaves as it is passes with no request of its
   own; every other goes through a server-side dry-run apply (validation, conflicts with other
   field managers). Every failure is collected, and any failure means nothing is written. The
   dry-run result decides "unchanged" for the rest: when applying would leave the live object as
   it is (`diff.same_live_state`), the object is not written at all, so a no-op sync issues no
   write, not even a dry-run, and keeps every resourceVersion.
3. `apply_staged` walks the plan's steps: writes what changed, waits for the CRDs it wrote to be
   Established and refreshes discovery, validates the deferred objects before the first stage-2
   write (a second gate), and optionally waits for each wave to be healthy. A failure finishes the
   step it is in and skips every later step.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import (
    ApiResource,
    ClusterClient,
    Forbidden,
    RequestRejected,
    UnknownKindError,
)
from fleetsync.shared.kube.crd import Definition, defined_kinds
from fleetsync.shared.kube.diff import same_live_state
from fleetsync.shared.kube.ownership import (
    APPLICATION_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    mark_managed,
    owner_of,
)
from fleetsync.shared.kube.plan import (
    CRD,
    NAMESPACE,
    PlanError,
    Stage,
    group_kind,
    plan_apply,
    wave_of,
)
from fleetsync.shared.kube.unchanged import unchanged
from fleetsync.shared.kube.wait import Watched, wait_established, wait_healthy
from fleetsync.shared.model import ChangeAction, ResourceKey

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

DEFAULT_NAMESPACE = "default"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
_UNREAD = object()
_NAMESPACES = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)


@dataclass(frozen=True, slots=True)
class Target:
    """One bundle object ready to apply: where it lives and the exact body to send."""

    key: ResourceKey
    resource: ApiResource
    obj: Manifest
    deferred: bool = False
    """Validated only after stage 1 (its kind or namespace comes from this bundle's stage 1)."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A target that passed the validation pass, with what applying it would do."""

    target: Target
    live: Manifest | None
    after: Manifest
    """The server's dry-run result: the object as applying it would leave it."""

    @property
    def action(self) -> ChangeAction:
        if self.live is None:
            return ChangeAction.CREATED
        if same_live_state(self.after, self.live):
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

    @property
    def failed(self) -> bool:
        return bool(self.changes.failed)


# -- 1. prepare --------------------------------------------------------------------------------


def bundle_problems(objects: Sequence[Manifest]) -> tuple[Change, ...]:
    """What makes a bundle invalid before any cluster is asked: malformed objects, duplicate
    keys, sync-wave annotations that are not integers."""
    problems: list[Change] = []
    seen: set[ResourceKey] = set()
    for obj in objects:
        key = ResourceKey.of(obj)
        if missing := _missing_fields(obj):
            problems.append(_failed(key, f"invalid manifest: missing {', '.join(missing)}"))
            continue
        if key in seen:
            problems.append(_failed(key, "declared twice in the bundle; keep one"))
        seen.add(key)
        try:
            wave_of(obj)
        except PlanError as e:
            problems.append(_failed(key, str(e).partition(": ")[2]))
    return tuple(problems)


def well_formed(objects: Iterable[Manifest]) -> tuple[Manifest, ...]:
    """The objects `bundle_problems` finds nothing wrong with on their own (no duplicates check)."""
    return tuple(o for o in objects if not _missing_fields(o))


def _missing_fields(obj: Manifest) -> list[str]:
    metadata = obj.get("metadata")
    return [
        what
        for what, value in (
            ("apiVersion", obj.get("apiVersion")),
            ("kind", obj.get("kind")),
            ("metadata.name", metadata.get("name") if isinstance(metadata, Mapping) else None),
        )
        if not isinstance(value, str) or not value
    ]


def prepare_targets(
    client: ClusterClient, objects: Sequence[Manifest], *, app: str, namespace: str | None
) -> Prepared:
    """Resolve, place and mark every object; collect every object that cannot be."""
    bundled = defined_kinds(objects)
    located: list[Target | Change] = []
    for obj in objects:
        try:
            located.append(locate(client, obj, app=app, namespace=namespace, bundled=bundled))
        except UnknownKindError as e:
            located.append(_failed(ResourceKey.of(obj), str(e)))
    declared = {
        t.key.name: t for t in located if isinstance(t, Target) and group_kind(t.obj) == NAMESPACE
    }
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
            namespace_exists[ns] = client.get(_NAMESPACES, name=ns) is not None
        if ns and not namespace_exists[ns]:
            if ns not in declared:
                failures.append(
                    _failed(
                        target.key,
                        f"namespace {ns} does not exist on cluster {client.name} and the bundle "
                        f"does not declare it; add a Namespace {ns} to the bundle or create it",
                    )
                )
                continue
            target = replace(target, deferred=True)
        if target.key in placed:
            failures.append(_failed(target.key, "declared twice in the bundle once namespaced"))
            continue
        placed.add(target.key)
        targets.append(target)
    return Prepared(targets=tuple(targets), failures=tuple(failures), live=seen)


def locate(
    client: ClusterClient,
    obj: Manifest,
    *,
    app: str,
    namespace: str | None,
    bundled: Mapping[tuple[str, str], Definition] | None = None,
) -> Target:
    """The target for one manifest. A kind only a bundled CRD defines resolves from that CRD
    (deferred); any other unknown kind raises UnknownKindError."""
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    deferred = False
    try:
        resource = client.resolve(api_version, kind)
    except UnknownKindError:
        definition = (bundled or {}).get((api_version, kind))
        if definition is None:
            raise
        resource = definition.api_resource(api_version.rpartition("/")[2])
        deferred = True
    placed = None
    if resource.namespaced:
        placed = str((obj.get("metadata") or {}).get("namespace") or namespace or DEFAULT_NAMESPACE)
    marked = mark_managed(obj, app=app, namespace=placed)
    return Target(key=ResourceKey.of(marked), resource=resource, obj=marked, deferred=deferred)


# -- 2. validate -------------------------------------------------------------------------------


def check_targets(
    client: ClusterClient,
    targets: Iterable[Target],
    *,
    app: str,
    force: bool,
    known: Mapping[ResourceKey, Manifest | None] | None = None,
) -> tuple[tuple[Checked, ...], tuple[Change, ...]]:
    """The validation pass: (objects that may be applied, every object that may not).

    `known` holds live objects already read (by `prepare_targets`); the rest are read here."""
    targets = tuple(targets)
    lives = read_live(client, targets, known=known)
    checked: list[Checked] = []
    failures: list[Change] = []
    for target in targets:
        result = check_target(client, target, app=app, force=force, live=lives[target.key])
        if isinstance(result, Change):
            failures.append(result)
        else:
            checked.append(result)
    return tuple(checked), tuple(failures)


def read_live(
    client: ClusterClient,
    targets: Sequence[Target],
    *,
    known: Mapping[ResourceKey, Manifest | None] | None = None,
) -> dict[ResourceKey, Manifest | None]:
    """The live objects of `targets` (None: not there), those in `known` as they are there.

    One LIST per kind of the application's labelled objects: in the one namespace the kind's
    targets share, else in every namespace (or, when the credentials may not list in every
    namespace, one LIST per namespace). Then a GET for each target no list showed: not created
    yet, existing without the application's labels (applied by hand, by another tool or by an
    older fleetsync), or in a namespace the credentials may not list."""
    live: dict[ResourceKey, Manifest | None] = {}
    by_resource: dict[ApiResource, list[Target]] = defaultdict(list)
    for target in targets:
        if known is not None and target.key in known:
            live[target.key] = known[target.key]
        else:
            by_resource[target.resource].append(target)
    unseen: list[Target] = []
    for resource, group in by_resource.items():
        listed = _list_managed(
            client, resource, sorted({t.key.namespace for t in group}), _selector(group)
        )
        index = {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])): o
            for o in listed
        }
        for target in group:
            found = index.get((target.key.namespace, target.key.name))
            if found is None:
                unseen.append(target)
            else:
                live[target.key] = found
    for target in unseen:
        live[target.key] = _get(client, target)
    return live


def _selector(targets: Sequence[Target]) -> str:
    """The label selector of the targets' application (all of one application, as marked)."""
    apps = {
        ((t.obj.get("metadata") or {}).get("labels") or {}).get(APPLICATION_LABEL) for t in targets
    }
    if len(apps) == 1 and (app := apps.pop()):
        return f"{MANAGED_SELECTOR},{APPLICATION_LABEL}={app}"
    return MANAGED_SELECTOR


def _list_managed(
    client: ClusterClient, resource: ApiResource, namespaces: Sequence[str], selector: str
) -> list[Manifest]:
    """fleetsync-labelled objects of one kind in `namespaces` ([""]: a cluster-scoped kind): one
    request, or one per namespace when the credentials may not list in every namespace; what
    they may not list at all is left out (its objects are then read one by one)."""
    if len(namespaces) == 1:
        return _list_in(client, resource, namespaces[0], selector)
    try:
        return client.list(resource, namespace="", label_selector=selector)
    except Forbidden:
        return [o for ns in namespaces for o in _list_in(client, resource, ns, selector)]


def _list_in(
    client: ClusterClient, resource: ApiResource, namespace: str, selector: str
) -> list[Manifest]:
    try:
        return client.list(resource, namespace=namespace, label_selector=selector)
    except Forbidden:
        log.debug("%s: may not list %s in %s", client.name, resource.plural, namespace or "*")
        return []


def _get(client: ClusterClient, target: Target) -> Manifest | None:
    metadata = target.obj["metadata"]
    return client.get(
        target.resource, name=metadata["name"], namespace=str(metadata.get("namespace") or "")
    )


def check_target(
    client: ClusterClient,
    target: Target,
    *,
    app: str,
    force: bool,
    live: Manifest | object | None = _UNREAD,
) -> Checked | Change:
    """Validate one target. An object `unchanged` can tell is in its desired state passes with
    no request at all; every other goes through a server-side dry-run apply."""
    current = _get(client, target) if live is _UNREAD else live
    assert current is None or isinstance(current, Mapping)
    owner = owner_of(current) if current is not None else None
    if owner is not None and owner != app:
        return _failed(
            target.key,
            f"conflict: owned by fleetsync application {owner!r}; not taken over "
            "(declare it in one application only)",
        )
    if current is not None and unchanged(target.obj, current):
        return Checked(target=target, live=current, after=current)
    try:
        after = client.apply(target.resource, target.obj, force=force, dry_run=True)
    except RequestRejected as e:
        return _failed(target.key, f"dry-run failed: {e}")
    return Checked(target=target, live=current, after=after)


# -- 3. write ----------------------------------------------------------------------------------


def apply_checked(
    client: ClusterClient, checked: Checked, *, force: bool
) -> tuple[Change, Manifest | None]:
    """Write one validated object unless it is unchanged; (change, object as it is now)."""
    action = checked.action
    if action is ChangeAction.UNCHANGED:
        return Change(checked.target.key, action), checked.live
    try:
        result = client.apply(checked.target.resource, checked.target.obj, force=force)
    except RequestRejected as e:
        return _failed(checked.target.key, f"apply failed: {e}"), checked.live
    return Change(checked.target.key, action), result


def apply_staged(
    client: ClusterClient,
    *,
    checked: Sequence[Checked],
    deferred: Sequence[Target],
    app: str,
    force: bool,
    wait_for_waves: bool = False,
    timeout: float = 120.0,
) -> Applied:
    """Apply validated objects (and deferred ones, validated after stage 1) in plan order."""
    ready = {c.target.key: c for c in checked}
    pending = {t.key: t for t in deferred}
    changes: list[Change] = []
    live: dict[ResourceKey, Manifest | None] = {k: c.live for k, c in ready.items()}
    steps = plan_apply([*(c.target.obj for c in checked), *(t.obj for t in deferred)])
    for index, step in enumerate(steps):
        keys = [ResourceKey.of(o) for o in step.objects]
        if pending and (step.stage is Stage.RESOURCES or any(k in pending for k in keys)):
            more, failures = _check_deferred(client, pending.values(), app=app, force=force)
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
        written: list[Watched] = []
        for key in keys:
            change, now = apply_checked(client, ready[key], force=force)
            changes.append(change)
            live[key] = now
            if change.action in (ChangeAction.CREATED, ChangeAction.CONFIGURED) and now is not None:
                written.append((key, ready[key].target.resource, now))
        crds = [w for w in written if group_kind(w[2]) == CRD]
        watched: list[Watched] = []
        if wait_for_waves and index < len(steps) - 1:
            watched = [(k, ready[k].target.resource, o) for k in keys if (o := live[k]) is not None]
        problem = _settle(client, crds, watched, live, timeout=timeout)
        if problem is not None:
            _fail_change(changes, *problem)
        if any(c.action is ChangeAction.FAILED for c in changes):
            return _stopped(
                changes, (), steps[index + 1 :], live, reason=f"not applied: step {step} failed"
            )
    return Applied(changes=ChangeSet.of(changes), live=live)


def _settle(
    client: ClusterClient,
    crds: Sequence[Watched],
    watched: Sequence[Watched],
    live: dict[ResourceKey, Manifest | None],
    *,
    timeout: float,
) -> tuple[ResourceKey, str] | None:
    """After a step: the CRDs it wrote Established (then discovery refreshed), and the objects
    `watched` healthy (a wave, with wait_for_waves). Updates `live` with what the waits saw."""
    if crds:
        waited = wait_established(client, crds, timeout=timeout)
        live.update(waited.seen)
        client.invalidate_discovery()
        if waited.problem is not None:
            return waited.problem
    if watched:
        waited = wait_healthy(client, watched, timeout=timeout)
        live.update(waited.seen)
        return waited.problem
    return None


def _fail_change(changes: list[Change], key: ResourceKey, why: str) -> None:
    """Turn the key's change into a failure that says what was done and what went wrong."""
    for i in range(len(changes) - 1, -1, -1):
        if changes[i].key == key:
            changes[i] = _failed(key, f"{changes[i].action}, then {why}")
            return
    changes.append(_failed(key, why))


def _check_deferred(
    client: ClusterClient, deferred: Iterable[Target], *, app: str, force: bool
) -> tuple[tuple[Checked, ...], tuple[Change, ...]]:
    """Resolve deferred targets again through discovery (their CRDs now exist) and check them."""
    resolved: list[Target] = []
    failures: list[Change] = []
    for target in deferred:
        try:
            resource = client.resolve(target.resource.api_version, target.resource.kind)
        except UnknownKindError as e:
            failures.append(_failed(target.key, f"{e} (its CRD was applied but does not serve it)"))
            continue
        resolved.append(replace(target, resource=resource, deferred=False))
    checked, rejected = check_targets(client, resolved, app=app, force=force)
    return checked, (*failures, *rejected)


def _stopped(
    changes: list[Change],
    failures: Iterable[Change],
    skipped_steps: Iterable[Any],
    live: Mapping[ResourceKey, Manifest | None],
    *,
    reason: str,
) -> Applied:
    """The result of a staged apply stopped by a failure: later objects reported as skipped."""
    failed = list(failures)
    done = {c.key for c in changes} | {c.key for c in failed}
    skipped = [
        Change(ResourceKey.of(o), ChangeAction.SKIPPED, reason)
        for step in skipped_steps
        for o in step.objects
        if ResourceKey.of(o) not in done
    ]
    return Applied(changes=ChangeSet.of([*changes, *failed, *skipped]), live=dict(live))


def _failed(key: ResourceKey, message: str) -> Change:
    return Change(key, ChangeAction.FAILED, message)
