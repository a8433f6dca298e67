"""Source-side tasks: poll a repository (one ls-remote), fetch and render what changed, fan out
one reconcile per target cluster of every application whose desired state moved. A webhook's
poll (`fetch=True`) that finds the repository moved fetches it in the same task."""

from __future__ import annotations

import logging

from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.planning.fanout import plan_fanout
from fleetsync.shared.render import sweep_scratch
from fleetsync.shared.rollouts import reconcile_now
from fleetsync.shared.source import fetch_repository, poll_repository, render_limits
from fleetsync.shared.tasking import (
    Job,
    Priority,
    TaskName,
    busy_countdown,
    fleet_task,
    on_worker_start,
)
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime

log = logging.getLogger(__name__)


@fleet_task(app, TaskName.POLL, runtime=runtime)
def poll(job: Job, repo: str, force: bool = False, fetch: bool = False) -> dict[str, object]:
    outcome = poll_repository(
        job.store, job.fleet, RepoName(repo), force=force, chart_dir=job.settings.chart_dir
    )
    log.info("poll: %s", outcome.error or outcome.revision)
    if outcome.error:
        return {"result": "failed", "error": outcome.error[:200]}
    found: dict[str, object] = {
        "result": "changed" if outcome.fetch_needed else "unchanged",
        "revision": str(outcome.revision) if outcome.revision else None,
    }
    if outcome.fetch_needed and fetch:  # a webhook's push: fetched here, no queue hop
        return {**found, "fetch": fetch_and_fan_out(job, repo, force=force)}
    if outcome.fetch_needed:
        job.sender.fetch(repo, force=force, priority=Priority.MANUAL if force else Priority.CHANGE)
    return found


@fleet_task(app, TaskName.FETCH, runtime=runtime)
def fetch(job: Job, repo: str, force: bool = False) -> dict[str, object]:
    return fetch_and_fan_out(job, repo, force=force)


def fetch_and_fan_out(job: Job, repo: str, *, force: bool) -> dict[str, object]:
    """The fetch task's work, also done by a webhook's poll that found the repository moved."""
    # One fetch of a repository at a time, and none waits for another: the lease is renewed
    # while this one works (renders included) and lapses within seconds of its process' death.
    with job.store.lease(f"fetch:{repo}") as lease:
        if lease is None:
            job.store.incr_stat("fetch_busy")
            priority = Priority.MANUAL if force else Priority.CHANGE
            job.sender.fetch(repo, force=force, priority=priority, countdown=busy_countdown())
            log.info("fetch: another fetch of the repository is at work; queued again")
            return {"result": "busy"}
        outcome = fetch_repository(
            job.store,
            job.fleet,
            RepoName(repo),
            force=force,
            mirror_dir=job.settings.mirror_dir,
            scratch_dir=job.settings.scratch_dir,
            chart_dir=job.settings.chart_dir,
            limits=render_limits(job.settings),
        )
    # Every application that changed is reconciled; whether that applies or only reports
    # (automated sync off, suspended, a change window) is decided by the reconcile itself.
    # A rollout in progress reconciles the clusters it has reached; the beat reaches the others.
    # Many applications changed on one cluster: one task per cluster (FLEETSYNC_CLUSTER_BATCH).
    fanout = plan_fanout(
        (
            (name, cluster)
            for name, clusters in outcome.changed.items()
            for cluster in reconcile_now(job.store, name, clusters)
        ),
        batch_from=job.settings.cluster_batch,
    )
    for name, cluster in fanout.pairs:
        job.sender.reconcile(name, cluster, reason=Trigger.CHANGE)
    for cluster, apps in fanout.batches:
        job.sender.reconcile_on_cluster(
            cluster, apps, reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
    # Applications elsewhere that take Helm values from this repository render again if the
    # file they read changed (their render keys hold its blob id).
    for reader in outcome.values_readers:
        job.sender.fetch(reader, force=True, priority=Priority.CHANGE)
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


def _sweep_scratch() -> None:
    """Scratch left by fetches of a killed worker goes as the worker starts."""
    sweep_scratch(runtime().settings.scratch_dir)


on_worker_start(app, _sweep_scratch)
