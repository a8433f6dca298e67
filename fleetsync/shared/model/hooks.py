"""Hooks as objects declare them: Argo CD's annotations, fleetsync's alias, Helm's mapped.

An object annotated `argocd.argoproj.io/hook` (or `fleetsync.io/hook`, the same words) is not
applied with the rest of its bundle: it is created at one phase of a sync, as Argo CD does.
Phases: PreSync (before anything is applied, and must complete), Sync (with the apply), PostSync
(once every object is Healthy), SyncFail (when the sync fails), PostDelete (after an application
removed with pruneOnRemoval lost its objects); `Skip` means never applied. Several phases may be
listed, comma-separated. `...hook-delete-policy` lists HookSucceeded, HookFailed and
BeforeHookCreation (the default when none is given).

Helm's `helm.sh/hook` maps as Argo CD maps it, unless an Argo CD or fleetsync hook annotation
is present (those win): pre-install and pre-upgrade are PreSync, post-install and post-upgrade
PostSync, post-delete PostDelete; `helm.sh/hook-weight` is the hook's wave; its delete policies
before-hook-creation, hook-succeeded and hook-failed map to the three above. Helm's test hooks
are never applied, and neither are hooks only Helm itself can run (pre-delete, pre-rollback,
post-rollback): `hook_of` says so, with the reason, so the render can report them.

Pure: an object's annotations in, a `Hook` (or None, or a HookError naming the bad value) out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

HOOK_ANNOTATIONS = ("fleetsync.io/hook", "argocd.argoproj.io/hook")
DELETE_POLICY_ANNOTATIONS = (
    "fleetsync.io/hook-delete-policy",
    "argocd.argoproj.io/hook-delete-policy",
)
HELM_HOOK = "helm.sh/hook"
HELM_WEIGHT = "helm.sh/hook-weight"
HELM_DELETE_POLICY = "helm.sh/hook-delete-policy"


class HookPhase(StrEnum):
    """When a hook runs, in the order a sync meets them."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    POST_DELETE = "PostDelete"


SYNC_PHASES = (HookPhase.PRE_SYNC, HookPhase.SYNC, HookPhase.POST_SYNC)
"""The phases a successful sync runs, in order."""


class DeletePolicy(StrEnum):
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"
    BEFORE_HOOK_CREATION = "BeforeHookCreation"


_SKIP = "Skip"
_HELM_PHASES: Mapping[str, HookPhase] = {
    "pre-install": HookPhase.PRE_SYNC,
    "pre-upgrade": HookPhase.PRE_SYNC,
    "crd-install": HookPhase.PRE_SYNC,
    "post-install": HookPhase.POST_SYNC,
    "post-upgrade": HookPhase.POST_SYNC,
    "post-delete": HookPhase.POST_DELETE,
}
_HELM_TESTS = frozenset({"test", "test-success", "test-failure"})
_HELM_ONLY = frozenset({"pre-delete", "pre-rollback", "post-rollback"})
"""Helm hooks of operations fleetsync does not have: never applied, reported."""
_HELM_POLICIES: Mapping[str, DeletePolicy] = {
    "before-hook-creation": DeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": DeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": DeletePolicy.HOOK_FAILED,
}


class HookError(ValueError):
    """A hook annotation fleetsync cannot act on; the message names the annotation and value."""


@dataclass(frozen=True, slots=True)
class Hook:
    """What an object's hook annotations say."""

    phases: tuple[HookPhase, ...]
    """Empty for an object that is never applied (`skipped` says why)."""
    delete_policies: frozenset[DeletePolicy] = frozenset({DeletePolicy.BEFORE_HOOK_CREATION})
    weight: int | None = None
    """`helm.sh/hook-weight`, the wave of a Helm hook that has no sync-wave annotation."""
    skipped: str = ""
    """Why the object is never applied: `Skip`, a Helm test, a hook only Helm runs."""
    annotation: str = ""
    """The annotation that made the object a hook."""

    @property
    def never_applied(self) -> bool:
        return not self.phases


def hook_of(obj: Mapping[str, Any]) -> Hook | None:
    """The object's hook, None for an ordinary object; HookError for a value fleetsync cannot
    act on (an unknown phase or delete policy, a weight that is not an integer)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, Mapping):
        return None
    for name in HOOK_ANNOTATIONS:
        if name in annotations:
            return _argo_hook(annotations, name)
    if HELM_HOOK in annotations:
        return _helm_hook(annotations)
    return None


def is_hook(obj: Mapping[str, Any]) -> bool:
    """Whether the object carries a hook annotation (valid or not)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, Mapping) and any(
        name in annotations for name in (*HOOK_ANNOTATIONS, HELM_HOOK)
    )


def _words(value: Any) -> list[str]:
    return [word.strip() for word in str(value).split(",") if word.strip()]


def _argo_hook(annotations: Mapping[str, Any], name: str) -> Hook:
    words = _words(annotations[name])
    if not words:
        raise HookError(f"annotation {name} is empty; {_PHASES_HINT}")
    if _SKIP in words:
        return Hook(phases=(), skipped=f"{name}: Skip", annotation=name)
    phases: list[HookPhase] = []
    for word in words:
        try:
            phase = HookPhase(word)
        except ValueError:
            raise HookError(
                f"annotation {name}: unknown hook phase {word!r}; {_PHASES_HINT}"
            ) from None
        if phase not in phases:
            phases.append(phase)
    policies = _policies(annotations)
    return Hook(phases=tuple(phases), delete_policies=policies, annotation=name)


_PHASES_HINT = f"use {', '.join(p.value for p in HookPhase)} or Skip"


def _policies(annotations: Mapping[str, Any]) -> frozenset[DeletePolicy]:
    for name in DELETE_POLICY_ANNOTATIONS:
        if name not in annotations:
            continue
        policies = set()
        for word in _words(annotations[name]):
            try:
                policies.add(DeletePolicy(word))
            except ValueError:
                known = ", ".join(p.value for p in DeletePolicy)
                raise HookError(
                    f"annotation {name}: unknown delete policy {word!r}; use {known}"
                ) from None
        return frozenset(policies) or frozenset({DeletePolicy.BEFORE_HOOK_CREATION})
    return frozenset({DeletePolicy.BEFORE_HOOK_CREATION})


def _helm_hook(annotations: Mapping[str, Any]) -> Hook:
    words = _words(annotations[HELM_HOOK])
    phases: list[HookPhase] = []
    unknown = [w for w in words if w not in _HELM_PHASES and w not in _HELM_TESTS | _HELM_ONLY]
    if unknown or not words:
        raise HookError(
            f"annotation {HELM_HOOK}: unknown Helm hook {(unknown or [''])[0]!r}; use "
            "pre-install, pre-upgrade, post-install, post-upgrade, post-delete or test"
        )
    for word in words:
        phase = _HELM_PHASES.get(word)
        if phase is not None and phase not in phases:
            phases.append(phase)
    weight = None
    if HELM_WEIGHT in annotations:
        text = str(annotations[HELM_WEIGHT]).strip()
        try:
            weight = int(text)
        except ValueError:
            raise HookError(
                f"annotation {HELM_WEIGHT}: {text!r} is not an integer; use a whole number"
            ) from None
    policies: set[DeletePolicy] = set()
    for word in _words(annotations.get(HELM_DELETE_POLICY, "")):
        policy = _HELM_POLICIES.get(word)
        if policy is None:
            raise HookError(
                f"annotation {HELM_DELETE_POLICY}: unknown delete policy {word!r}; use "
                "before-hook-creation, hook-succeeded or hook-failed"
            )
        policies.add(policy)
    skipped = ""
    if not phases:
        tests = [w for w in words if w in _HELM_TESTS]
        skipped = (
            f"Helm test hook ({', '.join(tests)}): never applied"
            if tests
            else f"Helm hook {', '.join(words)} runs only in Helm itself: never applied"
        )
    return Hook(
        phases=tuple(phases),
        delete_policies=frozenset(policies) or frozenset({DeletePolicy.BEFORE_HOOK_CREATION}),
        weight=weight,
        skipped=skipped,
        annotation=HELM_HOOK,
    )
