"""What every route needs, passed explicitly: no module-level state, so tests build an API
against their own Redis and several apps can live in one process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, status

from fleetsync.scheduler.api.auth import Access, AccessPolicy, guard
from fleetsync.scheduler.api.webhook_verify import WebhookSecrets
from fleetsync.scheduler.fleet_index import FleetIndex, FleetSnapshot
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender

NO_FLEET = (
    "no fleet declaration published yet: start the scheduler (beat) with FLEETSYNC_FLEET "
    "pointing at fleet.yaml"
)


@dataclass(frozen=True)
class ApiContext:
    store: Store
    sender: Sender
    access: AccessPolicy
    webhook_secrets: WebhookSecrets
    queue_depths: Callable[[], Mapping[str, int]] | None = None
    kube_cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache/fleetsync/kube")
    """Where cluster clients keep discovery, for reads of live objects (diffs)."""
    flower_url: str | None = None
    """Flower's address, for links to a pair's tasks (None: no links)."""
    index: FleetIndex = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", FleetIndex(self.store))

    def guard(self, access: Access) -> Callable[..., None]:
        return guard(self.access, access)

    def fleet(self) -> Fleet:
        """The published declaration, or a 503 saying how to publish one."""
        fleet = self.store.load_fleet()
        if fleet is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_FLEET)
        return fleet

    def snapshot(self) -> FleetSnapshot:
        return self.index.snapshot(self.fleet())
