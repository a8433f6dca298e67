"""The order of a sync: stages, waves and kinds, as one comparator over tables.

Apply walks the bundle in steps. A step is one (stage, wave): stage 1 holds the cluster-wide
definitions other objects need to exist first (CustomResourceDefinitions, Namespaces, ClusterRoles
and the built-in *Class kinds), stage 2 everything else. Within a stage the sync-wave annotation
(`fleetsync.io/sync-wave`, or Argo CD's `argocd.argoproj.io/sync-wave`; an integer, default 0)
orders steps, lower first. Within a step objects go by the kind order table (Namespaces and quotas
before the ServiceAccounts, Secrets and ConfigMaps workloads mount, Services before the workloads
behind them, webhooks last, unknown kinds after every known one), then by kind, group, namespace
and name, so the order never depends on how the bundle was rendered. Prune walks the same order
backwards.

Everything here is pure: objects in, order out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model import ResourceKey
from fleetsync.shared.model.builtin_kinds import BUILTIN_GROUPS

Manifest = Mapping[str, Any]
GroupKind = tuple[str, str]

WAVE_ANNOTATIONS = ("fleetsync.io/sync-wave", "argocd.argoproj.io/sync-wave")
"""Where a wave is read from, first found wins."""

CRD: GroupKind = ("apiextensions.k8s.io", "CustomResourceDefinition")
NAMESPACE: GroupKind = ("", "Namespace")


class Stage(IntEnum):
    DEFINITIONS = 1
    """Cluster-wide definitions the rest of the bundle needs: applied, and CRDs Established,
    before anything else is written."""
    RESOURCES = 2


STAGES: Mapping[GroupKind, Stage] = {
    CRD: Stage.DEFINITIONS,
    NAMESPACE: Stage.DEFINITIONS,
    ("rbac.authorization.k8s.io", "ClusterRole"): Stage.DEFINITIONS,
    ("storage.k8s.io", "StorageClass"): Stage.DEFINITIONS,
    ("scheduling.k8s.io", "PriorityClass"): Stage.DEFINITIONS,
    ("networking.k8s.io", "IngressClass"): Stage.DEFINITIONS,
    ("node.k8s.io", "RuntimeClass"): Stage.DEFINITIONS,
}
"""Kinds applied in stage 1; every other kind (custom kinds included) is stage 2."""

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "HorizontalPodAutoscaler",
    "Job",
    "CronJob",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
"""Apply order within a step; a kind not listed goes after all of these."""

_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}


class PlanError(PermanentError):
    """The bundle cannot be ordered (a malformed sync-wave annotation); names the object."""


@dataclass(frozen=True, slots=True)
class Step:
    stage: Stage
    wave: int
    objects: tuple[Manifest, ...]

    def __str__(self) -> str:
        return f"stage {int(self.stage)} wave {self.wave}"


def group_kind(obj: Manifest) -> GroupKind:
    return (str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", "")))


def is_builtin(obj: Manifest) -> bool:
    return group_kind(obj)[0] in BUILTIN_GROUPS


def stage_of(obj: Manifest) -> Stage:
    return STAGES.get(group_kind(obj), Stage.RESOURCES)


def wave_of(obj: Manifest) -> int:
    """The object's sync wave (default 0); a value that is not an integer is a PlanError."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for name in WAVE_ANNOTATIONS:
        if name in annotations:
            text = str(annotations[name]).strip()
            try:
                return int(text)
            except ValueError:
                raise PlanError(
                    f"{ResourceKey.of(obj)}: annotation {name}: {text!r} is not an integer; "
                    "use a whole number such as -1, 0 or 5"
                ) from None
    return 0


def kind_rank(kind: str) -> int:
    return _KIND_RANK.get(kind, len(KIND_ORDER))


def order_key(obj: Manifest) -> tuple[int, int, int, str, str, str, str]:
    """The one comparator: stage, wave, kind order, then kind, group, namespace, name."""
    key = ResourceKey.of(obj)
    return (
        int(stage_of(obj)),
        wave_of(obj),
        kind_rank(key.kind),
        key.kind,
        key.group,
        key.namespace,
        key.name,
    )


def plan_apply(objects: Iterable[Manifest]) -> tuple[Step, ...]:
    """The objects in apply order, grouped into steps of one (stage, wave) each."""
    ordered = sorted(objects, key=order_key)
    return tuple(
        Step(stage=Stage(stage), wave=wave, objects=tuple(group))
        for (stage, wave), group in itertools.groupby(
            ordered, key=lambda o: (int(stage_of(o)), wave_of(o))
        )
    )


def plan_prune(objects: Iterable[Manifest]) -> tuple[Manifest, ...]:
    """The objects in delete order: the apply order reversed (workloads before namespaces)."""
    return tuple(reversed([o for step in plan_apply(objects) for o in step.objects]))
