"""Which clusters go in which wave of a rollout.

Waves that name clusters or select them by label take those; a `percent` wave takes that share
(rounded up) of the clusters left over, in a stable order (the sha256 of each cluster's name), so
the same clusters go first every time; the clusters no wave takes form an implicit last wave.
Clusters in each wave are in that same stable order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

from fleetsync.shared.model.declaration import RolloutPolicy, WaveSpec
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.model.rollout import Wave

REST = "rest"
"""The implicit last wave's name."""


def stable_order(clusters: Mapping[ClusterName, object] | list[ClusterName]) -> list[ClusterName]:
    return sorted(clusters, key=lambda c: (hashlib.sha256(c.encode()).hexdigest(), c))


def chosen(spec: WaveSpec, labels: Mapping[ClusterName, Mapping[str, str]]) -> set[ClusterName]:
    """The clusters a wave names or selects (empty for a percent wave)."""
    found = {c for c in spec.clusters if c in labels}
    if spec.selector is not None:
        found |= {c for c, values in labels.items() if spec.selector.matches(values)}
    return found


def overlaps(
    policy: RolloutPolicy, labels: Mapping[ClusterName, Mapping[str, str]]
) -> list[tuple[ClusterName, str, str]]:
    """(cluster, first wave, second wave) for every cluster two waves both take."""
    found = []
    taken: dict[ClusterName, str] = {}
    for spec in policy.waves:
        for cluster in sorted(chosen(spec, labels)):
            if cluster in taken:
                found.append((cluster, taken[cluster], spec.name))
            else:
                taken[cluster] = spec.name
    return found


def assign_waves(
    policy: RolloutPolicy, labels: Mapping[ClusterName, Mapping[str, str]]
) -> tuple[Wave, ...]:
    """The waves of a rollout over the clusters in `labels` (cluster -> its labels), the
    implicit last wave included when it has clusters. A cluster two waves take goes in the
    first (validation refuses such a declaration)."""
    explicit = [chosen(spec, labels) for spec in policy.waves]
    claimed = set().union(*explicit) if explicit else set()
    left = [c for c in stable_order(list(labels)) if c not in claimed]
    taken: set[ClusterName] = set()
    waves = []
    for spec, members in zip(policy.waves, explicit, strict=True):
        if spec.percent is not None:
            share = math.ceil(len(left) * spec.percent / 100 - 1e-9)
            picked, left = left[:share], left[share:]
        else:
            picked = [c for c in stable_order(list(members)) if c not in taken]
        taken.update(picked)
        waves.append(Wave(name=spec.name, clusters=tuple(picked)))
    if left:
        waves.append(Wave(name=_rest_name(policy), clusters=tuple(left)))
    return tuple(waves)


def _rest_name(policy: RolloutPolicy) -> str:
    names = {spec.name for spec in policy.waves}
    name, n = REST, 1
    while name in names:
        n += 1
        name = f"{REST}-{n}"
    return name
