"""Progressive delivery in fleet.yaml: `defaults.rollout` and `applications[].rollout` (waves,
parallelism, bake, deadlines), and the whole-fleet check that no cluster is in two waves."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import yaml

from fleetsync.shared.fleet.nodes import BOOL_TAG, INT_TAG, At, node_kind
from fleetsync.shared.fleet.selectors import SelectorReader
from fleetsync.shared.model.declaration import (
    FailurePolicy,
    Fleet,
    RolloutPolicy,
    WaveSpec,
)
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.planning.waves import assign_waves, overlaps

_DEFAULTS_KEYS = ("rollout",)
_ROLLOUT_KEYS = ("waves", "maxParallel", "bake", "progressDeadline", "maxFailures", "onFailure")
_WAVE_KEYS = ("name", "clusters", "selector", "percent")


class RolloutReader(SelectorReader):
    """Reads rollout policies and their waves."""

    def defaults(self, at: At) -> None:
        f = self.mapping(at, _DEFAULTS_KEYS)
        if f is not None and "rollout" in f:
            self.default_rollout = self.rollout(f["rollout"]) or None
            self.seen[("defaults.rollout", "")] = f["rollout"]

    def rollout(self, at: At) -> RolloutPolicy | None:
        """A rollout policy; None for `false` (everywhere at once) or when it has errors."""
        if isinstance(at.node, yaml.ScalarNode) and at.node.tag == BOOL_TAG:
            if self.boolean(at):
                self.error(at, "write the rollout as a mapping (waves, bake...), or false for none")
            return None
        f = self.mapping(at, _ROLLOUT_KEYS)
        if f is None:
            return None
        before = len(self.errors)
        options: dict[str, Any] = {}
        if "waves" in f:
            names: dict[str, int] = {}
            waves = []
            for i, item in enumerate(self.sequence(f["waves"])):
                wave = self.wave(item, i)
                if wave is None:
                    continue
                if wave.name in names:
                    self.error(
                        item,
                        f"wave name '{wave.name}' is already used by wave {names[wave.name] + 1}",
                    )
                names.setdefault(wave.name, i)
                waves.append(wave)
            options["waves"] = tuple(waves)
        if "maxParallel" in f:
            options["max_parallel"] = self.count(f["maxParallel"], minimum=1)
        if "maxFailures" in f:
            options["max_failures"] = self.count(f["maxFailures"], minimum=0)
        if "bake" in f:
            options["bake"] = self.duration(f["bake"], minimum=0)
        if "progressDeadline" in f:
            options["progress_deadline"] = self.duration(f["progressDeadline"])
        if "onFailure" in f:
            choice = self.choice(f["onFailure"], [p.value for p in FailurePolicy])
            options["on_failure"] = FailurePolicy(choice) if choice else None
        if len(self.errors) > before:
            return None
        return RolloutPolicy(**options)

    def wave(self, at: At, index: int) -> WaveSpec | None:
        f = self.mapping(at, _WAVE_KEYS)
        if f is None:
            return None
        name = self.string(f["name"]) if "name" in f else f"wave-{index + 1}"
        kinds = [k for k in ("clusters", "selector", "percent") if k in f]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none of them"
            self.error(
                at, f"a wave takes exactly one of clusters, selector or percent; found {found}"
            )
            return None
        options: dict[str, Any] = {}
        if "clusters" in f:
            options["clusters"] = tuple(self.cluster_names(f["clusters"]))
        if "selector" in f:
            options["selector"] = self.selector(f["selector"])
        if "percent" in f:
            options["percent"] = self.percent(f["percent"])
        if name is None or any(value is None for value in options.values()):
            return None
        return WaveSpec(name=name, **options)

    def cluster_names(self, at: At) -> list[ClusterName]:
        names: list[ClusterName] = []
        for item in self.sequence(at):
            name = self.string(item)
            if name is not None and self.declared_in("clusters", item, name) and name not in names:
                names.append(ClusterName(name))
        return names

    def percent(self, at: At) -> float | None:
        node = at.node
        text = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        try:
            value = float(text.removesuffix("%"))
        except ValueError:
            self.error(
                at, f"must be a percentage from 0 to 100 (40 or '40%'), not {node_kind(node)}"
            )
            return None
        if not 0 <= value <= 100 or not math.isfinite(value):
            self.error(
                at, f"{text} is outside 0-100: a wave takes a percentage of the clusters left"
            )
            return None
        return value

    def count(self, at: At, *, minimum: int) -> int | None:
        node = at.node
        if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG:
            value = int(self.loader.construct_object(node))
            if value >= minimum:
                return value
            self.error(at, f"must be at least {minimum}, not {value}")
            return None
        self.error(at, f"must be a whole number, not {node_kind(node)}")
        return None

    def check_waves(self, fleet: Fleet) -> None:
        """No cluster in two waves; a warning for a wave that takes no cluster."""
        labels = {name: c.labels for name, c in fleet.clusters.items()}
        if fleet.default_rollout is not None:
            self.check_policy(
                fleet.default_rollout, labels, self.seen[("defaults.rollout", "")], ""
            )
        for name, app in fleet.applications.items():
            at = self.seen.get(("applications.rollout", name))
            if app.rollout is None or at is None:
                continue
            targets = {c: labels[c] for c in fleet.targets_of(name)}
            self.check_policy(app.rollout, targets, at, f"application '{name}': ")

    def check_policy(
        self,
        policy: RolloutPolicy,
        labels: Mapping[ClusterName, Mapping[str, str]],
        at: At,
        subject: str,
    ) -> None:
        for cluster, first, second in overlaps(policy, labels):
            self.error(
                at,
                f"{subject}cluster '{cluster}' is in wave '{first}' and in wave '{second}': "
                "a cluster belongs to one wave; narrow one of the selectors",
            )
        if labels:
            for wave in assign_waves(policy, labels):
                if not wave.clusters:
                    self.warn(at, f"{subject}wave '{wave.name}' takes no cluster")
