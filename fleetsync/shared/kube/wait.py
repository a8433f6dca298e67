"""Short waits inside one sync: CRDs until Established, a replaced object until it is gone.

Both poll GETs with a deadline and return what they saw, with a failure (the object and why)
instead of raising, so the apply verb can report it on the object concerned. A NamesAccepted
False CRD ends the wait at once: waiting longer would not help. Waiting for a wave to become
healthy is not done here, by a worker that sleeps: a sync stops at the wave and is continued later
(see `waves`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.health import assess_object
from fleetsync.shared.model import Health, ResourceKey

Manifest = Mapping[str, Any]
Watched = tuple[ResourceKey, ApiResource, Manifest]
"""An object to wait on: its key, where it lives and the last copy in hand."""

POLL_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Waited:
    problem: tuple[ResourceKey, str] | None
    """(key, why) of the first object that did not get there; None when all did."""
    seen: Mapping[ResourceKey, Manifest | None]
    """Every object as last read."""


def wait_established(client: ClusterClient, crds: Sequence[Watched], *, timeout: float) -> Waited:
    """Wait until every CRD is Established."""
    deadline = time.monotonic() + timeout
    current: dict[ResourceKey, Manifest | None] = {key: obj for key, _, obj in crds}
    while True:
        waiting = None
        for key, _, _ in crds:
            health, message = assess_object(current[key])
            if health is Health.DEGRADED:
                return Waited((key, f"{health}: {message}"), current)
            if health is not Health.HEALTHY and waiting is None:
                waiting = (key, f"{health}: {message}")
        if waiting is None:
            return Waited(None, current)
        if time.monotonic() >= deadline:
            key, why = waiting
            return Waited((key, f"not Established after {timeout:g}s ({why})"), current)
        time.sleep(POLL_INTERVAL)
        for key, resource, obj in crds:
            current[key] = _get(client, resource, obj)


def wait_gone(client: ClusterClient, watched: Watched, *, timeout: float) -> Waited:
    """Wait until the object no longer exists (a foreground deletion waits for its dependents)."""
    key, resource, obj = watched
    deadline = time.monotonic() + timeout
    current: Manifest | None = obj
    while True:
        current = _get(client, resource, obj)
        if current is None:
            return Waited(None, {key: None})
        if time.monotonic() >= deadline:
            return Waited((key, f"still being deleted after {timeout:g}s"), {key: current})
        time.sleep(POLL_INTERVAL)


def _get(client: ClusterClient, resource: ApiResource, obj: Manifest) -> Manifest | None:
    metadata = obj.get("metadata") or {}
    return client.get(
        resource, name=metadata["name"], namespace=str(metadata.get("namespace") or "")
    )
