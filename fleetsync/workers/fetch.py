"""Source-side tasks: poll a repository (one ls-remote), fetch and render what changed, fan out
one reconcile per target cluster of every application whose desired state moved."""

from __future__ import annotations

import logging

from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.source import fetch_repository, poll_repository
from fleetsync.shared.tasking import Priority, TaskName, Trigger, define_task
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime

log = logging.getLogger(__name__)

FETCH_LOCK_SECONDS = 900


@define_task(app, TaskName.POLL)
def poll(repo: str, force: bool = False) -> None:
    rt = runtime()
    rt.sender.started(TaskName.POLL, *((repo, "force") if force else (repo,)))
    fleet = rt.fleet()
    if fleet is None:
        return
    outcome = poll_repository(rt.store, fleet, RepoName(repo), force=force)
    if outcome.fetch_needed:
        rt.sender.fetch(repo, force=force, priority=Priority.MANUAL if force else Priority.CHANGE)
    log.info("poll %s: %s", repo, outcome.error or outcome.revision)


@define_task(app, TaskName.FETCH)
def fetch(repo: str, force: bool = False) -> None:
    rt = runtime()
    rt.sender.started(TaskName.FETCH, *((repo, "force") if force else (repo,)))
    fleet = rt.fleet()
    if fleet is None:
        return
    with rt.store.lock(f"fetch:{repo}", ttl=FETCH_LOCK_SECONDS):
        outcome = fetch_repository(
            rt.store,
            fleet,
            RepoName(repo),
            force=force,
            mirror_dir=rt.settings.mirror_dir,
            scratch_dir=rt.settings.scratch_dir,
        )
    # Every application that changed is reconciled; whether that applies or only reports
    # (automated sync off, suspended) is decided by the reconcile itself.
    for name in outcome.changed:
        for cluster in fleet.targets_of(name):
            rt.sender.reconcile(name, cluster, reason=Trigger.CHANGE)
    log.info(
        "fetch %s at %s: %d changed, %d rendered, %d reused, %d failed%s",
        repo,
        outcome.revision,
        len(outcome.changed),
        len(outcome.rendered),
        len(outcome.reused),
        len(outcome.failed),
        f" ({outcome.error})" if outcome.error else "",
    )
