"""Waiting on the cluster between steps: CRDs until Established, a wave until it is healthy.

Both poll GETs with a deadline and return what they saw, with a failure (the object and why)
instead of raising, so the apply verb can report it on the object that did not get there.
Degraded (or NamesAccepted False for a CRD) ends the wait at once: waiting longer would not help.
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

_SETTLED = (Health.HEALTHY, Health.SUSPENDED)


@dataclass(frozen=True, slots=True)
class Waited:
    problem: tuple[ResourceKey, str] | None
    """(key, why) of the first object that did not get there; None when all did."""
    seen: Mapping[ResourceKey, Manifest | None]
    """Every object as last read."""


def wait_established(client: ClusterClient, crds: Sequence[Watched], *, timeout: float) -> Waited:
    """Wait until every CRD is Established."""
    return _wait(client, crds, timeout=timeout, what="Established")


def wait_healthy(client: ClusterClient, objects: Sequence[Watched], *, timeout: float) -> Waited:
    """Wait until every object is Healthy or Suspended."""
    return _wait(client, objects, timeout=timeout, what="healthy")


def _wait(
    client: ClusterClient, objects: Sequence[Watched], *, timeout: float, what: str
) -> Waited:
    deadline = time.monotonic() + timeout
    current: dict[ResourceKey, Manifest | None] = {key: obj for key, _, obj in objects}
    while True:
        waiting = None
        for key, _, _ in objects:
            health, message = assess_object(current[key])
            if health is Health.DEGRADED:
                return Waited((key, f"{health}: {message}"), current)
            if health not in _SETTLED and waiting is None:
                waiting = (key, f"{health}: {message}")
        if waiting is None:
            return Waited(None, current)
        if time.monotonic() >= deadline:
            key, why = waiting
            return Waited((key, f"not {what} after {timeout:g}s ({why})"), current)
        time.sleep(POLL_INTERVAL)
        for key, resource, obj in objects:
            metadata = obj.get("metadata") or {}
            current[key] = client.get(
                resource, name=metadata["name"], namespace=str(metadata.get("namespace") or "")
            )
