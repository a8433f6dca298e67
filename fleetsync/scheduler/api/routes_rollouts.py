"""/api/v1/applications/{name}/rollout and /api/v1/freeze: a rollout's waves and clusters, the
operator's rollout actions (pause, resume, promote, abort, pin, unpin) and the fleet-wide
freeze. Actions need the API token; an action that does not apply to the rollout as it is is a
409 saying why."""

from __future__ import annotations

import logging
from enum import StrEnum

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict

from fleetsync.scheduler import rollout_ops
from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.schemas import error_responses
from fleetsync.scheduler.rollout_views import FreezeView, RolloutView, freeze_view, rollout_view
from fleetsync.scheduler.views import known_application
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.planning.rollout import waiting_note

log = logging.getLogger(__name__)


class RolloutAction(StrEnum):
    """The names of `rollout_ops.ACTIONS` (a test keeps the two the same)."""

    PAUSE = "pause"
    RESUME = "resume"
    PROMOTE = "promote"
    ABORT = "abort"
    PIN = "pin"
    UNPIN = "unpin"


class RolloutActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""
    """Why (pin only): shown in the rollout's status."""


class RolloutActionResult(BaseModel):
    application: str
    revision: str
    phase: str
    reason: str
    pinned: bool
    waiting: str | None
    """Which desired state waits for the rollout and why, in words."""


class FreezeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""
    manual_sync: bool = False
    """Whether `fleetsync sync` (or the API's sync) may still apply while frozen."""


def build_router(ctx: ApiContext) -> APIRouter:
    reads = [Depends(ctx.guard(Access.READ))]
    writes = [Depends(ctx.guard(Access.WRITE))]
    router = APIRouter(prefix="/api/v1", tags=["rollouts"], responses=error_responses(401, 403))

    @router.get(
        "/applications/{name}/rollout",
        dependencies=reads,
        responses=error_responses(404, 503),
    )
    def get_rollout(name: str) -> RolloutView:
        """The application's latest rollout: its waves, every cluster's state, revision, sync
        and health, the bake's remaining time, why it waits or stopped, the actions it takes."""
        view = rollout_view(ctx.store, ctx.fleet(), name)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name}: no rollout yet")
        return view

    @router.post(
        "/applications/{name}/rollout/{action}",
        dependencies=writes,
        responses=error_responses(404, 409, 503),
    )
    def act_on_rollout(
        name: str, action: RolloutAction, request: RolloutActionRequest | None = None
    ) -> RolloutActionResult:
        """pause (every cluster keeps what it runs), resume, promote (skip the rest of the
        current wave's bake), abort (the clusters reached return to the previous revision),
        pin (a newer commit waits instead of superseding the rollout; `{"reason": ...}`) and
        unpin (a newer commit that waited starts its rollout from wave 1)."""
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        reason = request.reason if request is not None else ""
        try:
            done = rollout_ops.act_on_rollout(
                ctx.store, ctx.sender, fleet, app, action.value, reason=reason
            )
        except PermanentError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        log.info("rollout %s of %s: now %s", action, name, done.phase)
        return RolloutActionResult(
            application=app,
            revision=str(done.revision),
            phase=done.phase,
            reason=done.reason,
            pinned=done.pinned is not None and done.phase.in_progress,
            waiting=waiting_note(done),
        )

    @router.get("/freeze", dependencies=reads)
    def get_freeze() -> FreezeView:
        """Whether the fleet is frozen, since when and why."""
        return freeze_view(ctx.store)

    @router.post("/freeze", dependencies=writes)
    def post_freeze(request: FreezeRequest) -> FreezeView:
        """Freeze the fleet at once: automated changes and rollout steps wait (drift is still
        reported) until unfrozen."""
        rollout_ops.freeze(ctx.store, reason=request.reason, manual_sync=request.manual_sync)
        log.info("fleet frozen: %s", request.reason or "no reason given")
        return freeze_view(ctx.store)

    @router.delete("/freeze", dependencies=writes)
    def delete_freeze() -> FreezeView:
        """End the freeze."""
        rollout_ops.unfreeze(ctx.store)
        log.info("fleet unfrozen")
        return freeze_view(ctx.store)

    return router
