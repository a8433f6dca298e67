"""The API's request and response bodies that are not read-model values (those live in
`fleetsync.scheduler.views`, shared with the CLI and the web view): pages, action requests and
results, probes and errors. Revisions as `ref@sha1:<hash>`, timestamps as Unix seconds, no
credential anywhere."""

from __future__ import annotations

from functools import cache
from typing import Any, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: `items` from `offset`, `total` over every page."""

    items: list[T]
    total: int
    offset: int
    limit: int


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: str | None = None
    """Only this target cluster; all of the application's targets when omitted."""


class PairRef(BaseModel):
    application: str
    cluster: str


class RefusedPair(BaseModel):
    application: str
    cluster: str
    reason: str


class SyncResult(BaseModel):
    enqueued: list[PairRef]
    already_queued: list[PairRef]
    """Triggers that coalesced into a reconcile already waiting in the queue."""
    refused: list[RefusedPair] = []
    """Clusters where a change window or the freeze refuses manual syncs (and why)."""


class RefreshResult(BaseModel):
    enqueued: list[str]
    already_queued: list[str]


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: str = Field(
        description=(
            "A revision the application ran: ref@sha1:<sha> or a sha prefix (7+); for a chart,"
            " name@version or a digest prefix."
        )
    )


class RollbackResult(BaseModel):
    application: str
    revision: str
    """The full revision rolled back to."""
    suspended: bool
    enqueued: list[PairRef]


class SuspendResult(BaseModel):
    application: str
    suspended: bool
    enqueued: list[PairRef] = []
    """Resume: the reconciles it queued (one per target)."""


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
    400: "Malformed request, payload or filter (the detail says which and why).",
    401: "Missing or wrong bearer token, or webhook signature.",
    403: "Refused by the access policy (no API token configured, or a read-only token).",
    404: "No such application, cluster, repository or revision (the detail names it).",
    409: "The action does not apply now (no rollout in progress, a window refuses it...).",
    413: "Body over 1 MiB.",
    415: "A webhook content type the provider's receiver does not take (the detail says which).",
    502: "The cluster could not be read.",
    503: "No fleet declaration published yet.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer with."""
    return {c: {"model": ErrorView, "description": _ERROR_MEANINGS[c]} for c in codes}


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def json_body(value: Any, kind: Any) -> Response:
    """`value` (of type `kind`, a read-model value or a page of them) serialized by pydantic's
    core without validating it again: large lists of values the read model built are answered
    in a fraction of the time a response model's validation takes."""
    return Response(_adapter(kind).dump_json(value), media_type="application/json")
