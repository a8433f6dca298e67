"""Read models for people: what `fleetsync status` shows, assembled from the fleet and the store.

Every target of an application gets a row, reconciled or not, so a cluster that has never been
reached shows as Unknown rather than vanishing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.report import age as model_age
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store


@dataclass(frozen=True, slots=True)
class AppRow:
    application: str
    repository: str
    desired_revision: str | None
    digest: str | None
    source_error: str | None
    suspended: bool
    pinned: str | None


@dataclass(frozen=True, slots=True)
class PairRow:
    application: str
    cluster: str
    sync: str
    health: str
    revision: str
    message: str
    at: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "application": self.application,
            "cluster": self.cluster,
            "sync": self.sync,
            "health": self.health,
            "revision": self.revision,
            "message": self.message,
            "at": self.at,
        }


def app_rows(store: Store, fleet: Fleet, only: str | None = None) -> list[AppRow]:
    rows = []
    for name, app in sorted(fleet.applications.items()):
        if only is not None and name != only:
            continue
        desired = store.desired(name)
        error = store.source_error(name)
        pin = store.pin(name)
        rows.append(
            AppRow(
                application=name,
                repository=app.repository,
                desired_revision=str(desired.revision) if desired else None,
                digest=desired.digest if desired else None,
                source_error=error.message if error else None,
                suspended=store.is_suspended(name),
                pinned=str(pin.revision) if pin else None,
            )
        )
    return rows


def pair_rows(store: Store, fleet: Fleet, only: str | None = None) -> list[PairRow]:
    rows = []
    for name in sorted(fleet.applications):
        if only is not None and name != only:
            continue
        for cluster in fleet.targets_of(name):
            status = store.status(name, cluster)
            if status is None:
                rows.append(
                    PairRow(
                        name,
                        cluster,
                        SyncState.UNKNOWN.value,
                        Health.UNKNOWN.value,
                        "",
                        "not yet reconciled",
                        None,
                    )
                )
            else:
                rows.append(
                    PairRow(
                        name,
                        cluster,
                        status.sync.value,
                        status.health.value,
                        str(status.revision or ""),
                        status.message,
                        status.at,
                    )
                )
    return rows


def age(at: float | None, now: float | None = None) -> str:
    """`42s`, `5m`, `3h`, `2d`; `-` for never."""
    return model_age(at, time.time() if now is None else now)


STATE_STYLE = {
    "Synced": "green",
    "Healthy": "green",
    "OutOfSync": "yellow",
    "Progressing": "cyan",
    "Degraded": "red",
    "Missing": "red",
    "Unknown": "magenta",
    "Suspended": "blue",
}
"""The colour of each sync and health word in terminal tables (rich markup)."""


def styled(word: str) -> str:
    """`word` in its colour (rich markup), or as it is."""
    style = STATE_STYLE.get(word)
    return f"[{style}]{word}[/]" if style else word


def short_revision(revision: str | None, *, sha_only: bool = False) -> str:
    """`main@sha1:<12 hex>` (or just 10 hex of the sha) for a table; `-` for none."""
    if not revision:
        return "-"
    try:
        parsed = Revision.parse(revision)
    except ValueError:
        return revision
    return parsed.sha[:10] if sha_only else parsed.short
