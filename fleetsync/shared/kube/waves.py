"""Sync waves wait: a wave is applied only once every earlier wave is healthy.

When a bundle's objects (after stage 1, see `plan`) carry more than one sync wave, the staged
apply stops before a wave whose earlier waves are not all Healthy (or Suspended), as Argo CD
does. It does not sleep: the sync returns what it waits for (`WaveWait`) and its caller continues
it later, a reconcile re-enqueued with a countdown (`WaveWait.recheck_in`), which re-reads
everything, finds the applied waves unchanged and goes on from the first wave not yet applied.

The wait has a deadline per application (`sync.waveTimeout`), counted from the first time a sync
of this bundle stopped before this wave. The cluster's copy of the inventory records that moment
(`WaveProgress`), so the count survives a worker's restart and does not depend on which worker
continues. Past the deadline the sync fails, naming the wave and the objects that are not
healthy, and the record is dropped: the next reconcile (a commit, a drift check, a manual sync)
waits anew.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.health import (
    NO_FACTS,
    SETTLED,
    ClusterFacts,
    ObjectHealth,
    assess_object,
    describe_unhealthy,
)
from fleetsync.shared.kube.plan import Stage, Step
from fleetsync.shared.model import ResourceKey

Manifest = Mapping[str, Any]

RECHECK_MIN = 2.0
RECHECK_MAX = 15.0


@dataclass(frozen=True, slots=True)
class WaveProgress:
    """Since when syncs of one bundle have been stopping before one wave."""

    bundle: str
    """The bundle's digest."""
    wave: int
    since: float
    """Seconds since the epoch."""

    def to_json(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "wave": self.wave, "since": self.since}

    @classmethod
    def from_json(cls, data: Any) -> WaveProgress | None:
        """The record, or None for anything that is not one (an edited ConfigMap)."""
        try:
            return cls(
                bundle=str(data["bundle"]), wave=int(data["wave"]), since=float(data["since"])
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class WaveStop:
    """Where a staged apply stopped: before `wave`, because of `unhealthy` earlier objects."""

    wave: int
    unhealthy: tuple[ObjectHealth, ...]


@dataclass(frozen=True, slots=True)
class WaveWait:
    """A sync waiting for earlier waves to become healthy before it applies `wave`."""

    wave: int
    unhealthy: tuple[ObjectHealth, ...]
    since: float
    deadline: float

    def __str__(self) -> str:
        return f"waiting for wave {self.wave}: {describe_unhealthy(self.unhealthy)}"

    def recheck_in(self, now: float) -> float:
        """Seconds until the sync should look again: soon at first, then less often, and no
        later than just past the deadline."""
        pace = min(max((now - self.since) / 4, RECHECK_MIN), RECHECK_MAX)
        return max(min(pace, self.deadline - now + 0.5), 0.5)


def waves_of(steps: Sequence[Step]) -> tuple[int, ...]:
    """The distinct waves of the steps after stage 1, in order."""
    return tuple(sorted({s.wave for s in steps if s.stage is not Stage.DEFINITIONS}))


def stop_before(
    step: Step,
    earlier: Sequence[ResourceKey],
    live: Mapping[ResourceKey, Manifest | None],
    *,
    waves: Sequence[int],
    facts: ClusterFacts = NO_FACTS,
) -> WaveStop | None:
    """Whether a staged apply must stop before `step`: it starts a wave after the first, and
    an object of an earlier wave (`earlier`, as last seen in `live`) is not healthy."""
    if step.stage is Stage.DEFINITIONS or len(waves) < 2 or step.wave == waves[0]:
        return None
    verdicts = (ObjectHealth(key, *assess_object(live.get(key), facts)) for key in earlier)
    unhealthy = tuple(v for v in verdicts if v.health not in SETTLED)
    return WaveStop(wave=step.wave, unhealthy=unhealthy) if unhealthy else None


def since_when(progress: WaveProgress | None, *, bundle: str, wave: int, now: float) -> float:
    """When the wait before `wave` began: the record's moment for this bundle and wave, else
    now."""
    if progress is not None and progress.bundle == bundle and progress.wave == wave:
        return progress.since
    return now
