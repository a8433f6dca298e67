"""The fleet's digest: equal declarations, equal digests (a change is re-published)."""

from __future__ import annotations

import hashlib
import json

from fleetsync.shared.model.declaration import Fleet


def fleet_digest(fleet: Fleet) -> str:
    """Hex sha256 of the fleet's canonical JSON: equal declarations, equal digests."""
    canonical = json.dumps(
        fleet.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
