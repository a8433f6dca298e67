"""Source-side tasks: poll a repository (one ls-remote), fetch and render what changed, fan out
one reconcile per target cluster of every application whose desired state moved."""

from __future__ import annotations

import logging

from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.source import fetch_repository, poll_repository
from fleetsync.shared.tasking import Job, Priority, TaskName, fleet_task
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime

log = logging.getLogger(__name__)

FETCH_LOCK_SECONDS = 900


@fleet_task(app, TaskName.POLL, runtime=runtime)
def poll(job: Job, repo: str, force: bool = False) -> dict[str, object]:
    outcome = poll_repository(job.store, job.fleet, RepoName(repo), force=force)
    if outcome.fetch_needed:
        job.sender.fetch(repo, force=force, priority=Priority.MANUAL if force else Priority.CHANGE)
    log.info("poll: %s", outcome.error or outcome.revision)
    if outcome.error:
        return {"result": "failed", "error": outcome.error[:200]}
    return {
        "result": "changed" if outcome.fetch_needed else "unchanged",
        "revision": str(outcome.revision) if outcome.revision else None,
    }


@fleet_task(app, TaskName.FETCH, runtime=runtime)
def fetch(job: Job, repo: str, force: bool = False) -> dict[str, object]:
    with job.store.lock(f"fetch:{repo}", ttl=FETCH_LOCK_SECONDS):
        outcome = fetch_repository(
            job.store,
            job.fleet,
            RepoName(repo),
            force=force,
            mirror_dir=job.settings.mirror_dir,
            scratch_dir=job.settings.scratch_dir,
        )
    # Every application that changed is reconciled; whether that applies or only reports
    # (automated sync off, suspended) is decided by the reconcile itself.
    for name in outcome.changed:
        for cluster in job.fleet.targets_of(name):
            job.sender.reconcile(name, cluster, reason=Trigger.CHANGE)
    log.info(
        "fetch at %s: %d changed, %d rendered, %d reused, %d failed%s",
        outcome.revision,
        len(outcome.changed),
        len(outcome.rendered),
        len(outcome.reused),
        len(outcome.failed),
        f" ({outcome.error})" if outcome.error else "",
    )
    return {
        "result": "failed" if outcome.error else "fetched",
        "revision": str(outcome.revision) if outcome.revision else None,
        "changed": len(outcome.changed),
        "rendered": len(outcome.rendered),
        "reused": len(outcome.reused),
        "failed": len(outcome.failed),
    }
