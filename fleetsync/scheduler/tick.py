"""One beat tick: keep the published declaration current, then emit what is due.

The declaration is re-read when fleet.yaml changes on disk; a broken edit keeps the last good
declaration running and records the error (shown by `fleetsync status` and the API). When Redis
has lost fleetsync's state (flushed, or restarted without persistence) the tick notices the
published declaration is gone and publishes the last good one again and re-plans the due-sets:
every repository is then polled and fetched as if new, and every pair reconciled (the inventory
mirrored in each cluster keeps that from orphaning or wrongly deleting anything). A changed
declaration re-plans the due-sets and triggers what the change calls for: a render of changed
applications, a reconcile on newly targeted clusters, and (only with `pruneOnRemoval`) the
removal of an application's objects from clusters it no longer targets. Every tick also enqueues
again the tasks whose worker stopped without finishing them (their in-flight record lapsed),
steps the rollouts that need it (`scheduler/rollouts.py`), and enqueues a message for each
condition fleet.yaml's `notifications` watch that changed since the last tick
(`shared/notices.py`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from fleetsync.scheduler.rollouts import RolloutController
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import fleet_digest, load_fleet
from fleetsync.shared.lost_messages import recover_lost
from fleetsync.shared.model.declaration import Application, Cluster, Fleet
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.notices import due_notifications
from fleetsync.shared.store import DueSet, Store
from fleetsync.shared.tasking import Priority, Sender, Trigger, recover_abandoned

log = logging.getLogger(__name__)

PAIR_SEP = "|"
UNREADABLE = (-1, -1)
"""The identity of a fleet.yaml that cannot be read (no file has a negative size)."""


def pair_member(app: str, cluster: str) -> str:
    return f"{app}{PAIR_SEP}{cluster}"


def split_pair(member: str) -> tuple[str, str]:
    app, _, cluster = member.partition(PAIR_SEP)
    return app, cluster


@dataclass
class TickReport:
    polls: list[str] = field(default_factory=list)
    drift_checks: list[tuple[str, str]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """Tasks enqueued again because their worker stopped without finishing them."""
    reloaded: bool = False
    fleet_error: str | None = None


class Ticker:
    """Holds the last good declaration and the file's identity between ticks."""

    def __init__(self, store: Store, sender: Sender, fleet_file: Path | None) -> None:
        self._store = store
        self._sender = sender
        self._file = fleet_file
        self._seen: tuple[int, int] | None = None
        self._fleet: Fleet | None = None
        self._started = False
        self._rollouts = RolloutController(store, sender)

    def tick(self) -> TickReport:
        report = TickReport()
        if not self._started:
            # Read at the first tick, not at construction: Redis may be away when the beat
            # starts, and the beat must start anyway.
            self._fleet = self._store.load_fleet()
            self._started = True
        self._recover_lost_state()
        self._reload(report)
        for repo in self._store.claim_due(DueSet.POLL):
            if self._sender.poll(repo):
                report.polls.append(repo)
        for member in self._store.claim_due(DueSet.DRIFT):
            app, cluster = split_pair(member)
            if self._sender.reconcile(
                app, cluster, reason=Trigger.DRIFT, priority=Priority.PERIODIC
            ):
                report.drift_checks.append((app, cluster))
        report.recovered = [t.name for t in recover_abandoned(self._store, self._sender)]
        report.recovered += [t.name for t in recover_lost(self._store, self._sender)]
        if self._fleet is not None:
            self._rollouts.tick(self._fleet)
            for delivery in due_notifications(self._store, self._fleet):
                self._sender.notify(delivery.notification, delivery.event)
        return report

    def _recover_lost_state(self) -> None:
        """Publish the last good declaration again if Redis no longer has one (its data was
        lost), and re-read fleet.yaml at once in case it changed meanwhile."""
        if self._fleet is None or self._store.fleet_digest() is not None:
            return
        log.warning(
            "Redis no longer holds the published fleet declaration (its data was lost): "
            "publishing it again; every repository will be fetched and every application "
            "reconciled on every cluster"
        )
        # Before the declaration is back (no fetch runs without it): each application's first
        # desired state of this life is rolled out from wave 1, not sent everywhere at once.
        self._store.note_loss(self._fleet.applications)
        self._store.publish_fleet(self._fleet, fleet_digest(self._fleet))
        plan_schedules(self._store, self._fleet)
        self._seen = None

    def _reload(self, report: TickReport) -> None:
        if self._file is None:
            return
        try:
            st = os.stat(self._file)
            identity = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            identity = UNREADABLE
            if self._seen != identity:
                report.fleet_error = f"{self._file}: cannot read: {exc.strerror}"
                self._store.set_fleet_error(report.fleet_error)
                log.error("%s; keeping the last good declaration", report.fleet_error)
            self._seen = identity
            return
        if identity == self._seen:
            return
        self._seen = identity
        try:
            fleet = load_fleet(self._file)
        except FleetsyncError as exc:
            report.fleet_error = str(exc)
            self._store.set_fleet_error(report.fleet_error)
            log.error("fleet declaration refused, keeping the last good one:\n%s", exc)
            return
        self._store.set_fleet_error(None)
        if self._store.publish_fleet(fleet, fleet_digest(fleet)):
            report.reloaded = True
            self._rollouts.look_at_everything()
            self._apply_change(self._fleet, fleet)
            log.info(
                "fleet declaration published: %d repositories, %d clusters, %d applications",
                len(fleet.repositories),
                len(fleet.clusters),
                len(fleet.applications),
            )
        self._fleet = fleet
        plan_schedules(self._store, fleet)

    def _apply_change(self, old: Fleet | None, new: Fleet) -> None:
        before = old or Fleet()
        refetch: set[RepoName] = set()
        for name, app in new.applications.items():
            previous = before.applications.get(name)
            if previous is None or _render_spec(previous, before) != _render_spec(app, new):
                refetch.add(app.repository)
                continue
            old_targets = set(before.targets_of(name))
            for cluster in new.targets_of(name):
                if cluster not in old_targets or _moved(
                    before.clusters[cluster], new.clusters[cluster]
                ):
                    self._sender.reconcile(name, cluster, reason=Trigger.TARGETED)
            if app.sync.prune_on_removal:
                for cluster in old_targets - set(new.targets_of(name)):
                    self._sender.prune_removed(name, cluster)
        for name, app in before.applications.items():
            if name not in new.applications and app.sync.prune_on_removal:
                for cluster in before.targets_of(name):
                    self._sender.prune_removed(name, cluster)
        for repo in sorted(refetch):
            # A repository never fetched yet is polled by its schedule, which renders every
            # application of it: forcing a second fetch here would only repeat that work.
            if self._store.repo_state(repo).fetched_sha is not None:
                self._sender.poll(repo, force=True, priority=Priority.CHANGE)


def _render_spec(app: Application, fleet: Fleet) -> tuple[object, ...]:
    """The parts of an application that change what it renders: with per-cluster variants,
    the name, labels and values of each cluster it targets too (the fetch then reconciles only
    the clusters whose bundle moved)."""
    spec: tuple[object, ...] = (app.repository, app.path, app.namespace, app.renderer, app.helm)
    spec += (app.chart, app.version, app.substitute, app.overrides)
    if not app.varies:
        return spec
    clusters = [fleet.clusters[c] for c in fleet.targets_of(app.name)]
    return (*spec, [(c.name, c.labels, c.values) for c in clusters])


def _moved(old: Cluster, new: Cluster) -> bool:
    """Whether a cluster changed as a reconcile sees it: how to reach it, its labels (its
    values go into renders, which the fetch compares)."""
    return replace(old, values=new.values) != new


def plan_schedules(store: Store, fleet: Fleet) -> None:
    store.plan_due(DueSet.POLL, {name: r.interval for name, r in fleet.repositories.items()})
    store.plan_due(
        DueSet.DRIFT,
        {
            pair_member(name, cluster): app.sync.drift_interval
            for name, app in fleet.applications.items()
            for cluster in fleet.targets_of(name)
        },
        first_after_interval=True,
    )
