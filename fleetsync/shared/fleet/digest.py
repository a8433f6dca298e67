"""The fleet's published form: its canonical JSON and that text's digest, computed once (equal
declarations, equal digests: a change is re-published, an unchanged one is not)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from fleetsync.shared.model.declaration import Fleet


@dataclass(frozen=True, slots=True)
class PublishedFleet:
    """A declaration with the JSON text every process reads it from and that text's digest."""

    fleet: Fleet
    body: str
    digest: str


def publish_form(fleet: Fleet) -> PublishedFleet:
    """`fleet` turned to JSON once, for both its digest and its publication."""
    body = json.dumps(
        fleet.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return PublishedFleet(fleet, body, hashlib.sha256(body.encode("utf-8")).hexdigest())


def fleet_digest(fleet: Fleet) -> str:
    """Hex sha256 of the fleet's canonical JSON: equal declarations, equal digests."""
    return publish_form(fleet).digest
