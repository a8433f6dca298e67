"""The API's request and response bodies (they make the OpenAPI document): the field's words,
revisions as `ref@sha1:<hash>`, timestamps as Unix seconds, no credential anywhere."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.model.trigger import Trigger


class ObjectChangeView(BaseModel):
    key: str
    action: ChangeAction
    message: str = ""


class PairStatusView(BaseModel):
    """One application on one cluster, as its last reconcile left it."""

    application: str
    cluster: str
    sync: SyncState
    health: Health
    revision: str
    digest: str
    at: float | None
    """When the reconcile finished; None when the pair was never reconciled."""
    duration: float
    message: str
    error_object: str | None = None
    counts: dict[str, int]
    changes: list[ObjectChangeView]
    drifted: list[str]
    reason: str
    """What triggered the last reconcile, for people: `new desired state`, `drift check`..."""
    trigger: Trigger
    """The same as a stable token: `change`, `targeted`, `drift` or `manual`."""
    targeted: bool = True
    """False for a cluster the application no longer targets but that still has a status."""


class PairSummary(BaseModel):
    cluster: str
    sync: SyncState
    health: Health
    revision: str


class DesiredView(BaseModel):
    revision: str
    digest: str
    renderer: str
    rendered_at: float
    observed: str | None


class SourceErrorView(BaseModel):
    message: str
    revision: str
    at: float
    stage: str


class PinView(BaseModel):
    revision: str
    digest: str
    at: float


class ApplicationBase(BaseModel):
    name: str
    repository: str
    path: str
    namespace: str | None
    desired: DesiredView | None
    source_error: SourceErrorView | None
    suspended: bool
    pinned: PinView | None
    sync: SyncState
    """Synced when every target is, OutOfSync when any is, else Unknown."""
    health: Health
    """The worst health over the targets."""


class ApplicationSummary(ApplicationBase):
    clusters: list[PairSummary]


class ApplicationDetail(ApplicationBase):
    clusters: list[PairStatusView]


class ClusterView(BaseModel):
    name: str
    labels: dict[str, str]
    applications: list[str]
    health: Health
    """The worst health of the applications on it (Unknown while any is not yet reconciled)."""


class RevisionPair(BaseModel):
    application: str
    cluster: str
    sync: SyncState
    health: Health


class RevisionView(BaseModel):
    revision: str
    health: Health
    pairs: list[RevisionPair]


class RepositoryView(BaseModel):
    name: str
    url: str
    ref: str
    interval: float
    sha: str | None
    revision: str | None
    polled_at: float | None
    fetched_sha: str | None
    error: str | None
    error_at: float | None
    failures: int
    applications: list[str]


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: str | None = None
    """Only this target cluster; all of the application's targets when omitted."""


class PairRef(BaseModel):
    application: str
    cluster: str


class SyncResult(BaseModel):
    enqueued: list[PairRef]
    already_queued: list[PairRef]
    """Triggers that coalesced into a reconcile already waiting in the queue."""


class RefreshResult(BaseModel):
    enqueued: list[str]
    already_queued: list[str]


class WebhookResult(BaseModel):
    event: str
    enqueued: list[str] = []
    already_queued: list[str] = []
    message: str = ""


class Probe(BaseModel):
    status: str
    reason: str = ""
    fleet_error: str | None = None


class ErrorView(BaseModel):
    detail: str


_ERROR_MEANINGS = {
    400: "Malformed request or payload.",
    401: "Missing or wrong bearer token, or webhook signature.",
    403: "Refused by the access policy (no API token configured).",
    404: "No such application, cluster or repository.",
    413: "Body over 1 MiB.",
    503: "No fleet declaration published yet.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer with."""
    return {c: {"model": ErrorView, "description": _ERROR_MEANINGS[c]} for c in codes}
