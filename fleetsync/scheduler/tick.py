"""One beat tick: keep the published declaration current, then emit what is due.

The declaration is re-read when fleet.yaml changes on disk, in a process of its own under the
beat (`scheduler/fleet_reads.py`): the ticks go on with the current declaration while it is
read, and the first tick after the read publishes it. A broken edit keeps the last good
declaration running and records the error (shown by `fleetsync status` and the API). When Redis
has lost fleetsync's state (flushed, or restarted without persistence) the tick notices the
published declaration is gone and publishes the last good one again and re-plans the due-sets:
every repository is then polled and fetched as if new, and every pair reconciled (the inventory
mirrored in each cluster keeps that from orphaning or wrongly deleting anything). A changed
declaration re-plans the due-sets and triggers what the change calls for: a render of changed
applications, a reconcile on newly targeted clusters, and (only with `pruneOnRemoval`) the
removal of an application's objects from clusters it no longer targets. Each pair comes due for
an interval drift check every `driftInterval`; one whose drift live watches cover (its cluster's
watcher says so, every kind of its inventory watched) is checked only once per
`watchedDriftInterval` (an hour by default): the watches find its drift at once, the check is
their backstop. A pair whose watch is lost, refused or failing is checked at its next due time,
within one `driftInterval`. Every tick also enqueues
again the tasks whose worker stopped without finishing them (their in-flight record lapsed),
steps the rollouts that need it (`scheduler/rollouts.py`), and enqueues a message for each
condition fleet.yaml's `notifications` watch that changed since the last tick
(`shared/notices.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from fleetsync.scheduler.fleet_reads import FleetRead, FleetReads
from fleetsync.scheduler.rollouts import RolloutController
from fleetsync.shared.fleet import PublishedFleet, publish_form
from fleetsync.shared.lost_messages import recover_lost
from fleetsync.shared.model.declaration import Application, Cluster, Fleet
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.notices import due_notifications
from fleetsync.shared.store import DueSet, Store
from fleetsync.shared.tasking import Priority, Sender, Trigger, recover_abandoned

log = logging.getLogger(__name__)

PAIR_SEP = "|"


def pair_member(app: str, cluster: str) -> str:
    return f"{app}{PAIR_SEP}{cluster}"


def split_pair(member: str) -> tuple[str, str]:
    app, _, cluster = member.partition(PAIR_SEP)
    return app, cluster


@dataclass
class TickReport:
    polls: list[str] = field(default_factory=list)
    drift_checks: list[tuple[str, str]] = field(default_factory=list)
    backstop_waits: int = 0
    """Pairs whose interval drift check came due but waits: live watches cover them, and their
    last interval check is more recent than their backstop interval."""
    recovered: list[str] = field(default_factory=list)
    """Tasks enqueued again because their worker stopped without finishing them."""
    reloaded: bool = False
    fleet_error: str | None = None


class Ticker:
    """Holds the last good declaration between ticks, and the reads of fleet.yaml.

    `background=True` (the beat) reads fleet.yaml in a process of its own while the ticks go
    on; otherwise
    the tick that sees the file changed reads it itself. `reads` replaces the reads of
    `fleet_file` (a test holds a read in progress with it)."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        fleet_file: Path | None,
        *,
        background: bool = False,
        reads: FleetReads | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        if reads is None and fleet_file is not None:
            reads = FleetReads(fleet_file, background=background)
        self._reads = reads
        self._fleet: Fleet | None = None
        self._published: PublishedFleet | None = None
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
        claimed = self._store.claim_due(DueSet.DRIFT)
        taken = self._store.take_checks(DueSet.DRIFT, self._drift_waits(claimed))
        report.backstop_waits = len(claimed) - len(taken)
        for member in taken:
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

    def _drift_waits(self, claimed: list[str]) -> dict[str, float]:
        """Each claimed pair's wait since its last interval check: none for a pair whose drift
        no live watch covers (checked every `driftInterval`); for one whose every kind its
        watcher watches, healthy, its backstop interval (`watchedDriftInterval`) less half a
        `driftInterval` (the pair is claimed every `driftInterval`, give or take its jitter).
        A watch lost, refused or failing shows at the pair's next claim: checked then. A pair
        newly covered is checked once at its first claim covered (`take_checks`), so that its
        status is written current for the backstop."""
        fleet = self._fleet
        if not claimed or fleet is None:
            return dict.fromkeys(claimed, 0.0)
        pairs = [split_pair(m) for m in claimed]
        detection = self._store.drift_detection(
            sorted({c for _, c in pairs}), unwatched=fleet.unwatched()
        )
        waits = {}
        for member, (app, cluster) in zip(claimed, pairs, strict=True):
            application = fleet.applications.get(AppName(app))
            if application is None or not detection[cluster].covers(app):
                waits[member] = 0.0
                continue
            policy = application.sync
            waits[member] = policy.drift_every(watched=True) - policy.drift_interval / 2
        return waits

    def wait_for_read(self, timeout: float) -> bool:
        """Whether no read of fleet.yaml is in progress, waiting up to `timeout` seconds for
        one to end (the next tick publishes what it found)."""
        return self._reads is None or self._reads.wait_idle(timeout)

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
        # `_published` is always the form of `_fleet` once set (`_record` sets both): only a
        # declaration read from Redis at the first tick has none yet.
        if self._published is None:
            self._published = publish_form(self._fleet)
        published = self._published
        self._store.publish_fleet(published.fleet, published.digest, body=published.body)
        plan_schedules(self._store, self._fleet)
        self._reconcile_everything(self._fleet)
        if self._reads is not None:
            self._reads.forget()

    def _reconcile_everything(self, fleet: Fleet) -> None:
        """After the declaration is published again, a reconcile of every pair whose
        application already has a desired state, a task per cluster. Such a state was written
        after the loss by a fetch under way across it, which recorded its commit fetched (no
        poll fetches it again); a reconcile it queued that ran while the declaration was
        missing did nothing and took its pair's coalescing mark. Sent after publishing, so
        none of these runs without it. An application with no desired state is left to the
        fetch that renders it (it queues its reconciles)."""
        rendered = set(self._store.rendered(sorted(fleet.applications)))
        on: dict[str, list[str]] = {}
        for name in sorted(rendered):
            for target in fleet.targets_of(AppName(name)):
                on.setdefault(str(target), []).append(name)
        for cluster, apps in sorted(on.items()):
            self._sender.reconcile_on_cluster(
                cluster, apps, reason=Trigger.DRIFT, priority=Priority.PERIODIC
            )

    def _reload(self, report: TickReport) -> None:
        read: FleetRead | None = self._reads.look() if self._reads is not None else None
        if read is None:
            return
        try:
            self._record(read, report)
        except BaseException:
            # Not recorded (Redis refused the writes or went away): the next tick reads the
            # file again, or this edit would wait for the next one.
            assert self._reads is not None
            self._reads.forget()
            raise

    def _record(self, read: FleetRead, report: TickReport) -> None:
        if read.published is None:
            report.fleet_error = read.error
            self._store.set_fleet_error(report.fleet_error)
            log.error("fleet declaration refused, keeping the last good one:\n%s", read.error)
            return
        published, fleet = read.published, read.published.fleet
        self._store.set_fleet_error(None)
        if self._store.publish_fleet(fleet, published.digest, body=published.body):
            report.reloaded = True
            self._rollouts.look_at_everything()
            self._apply_change(self._fleet, fleet)
            log.info(
                "fleet declaration published: %d repositories, %d clusters, %d applications",
                len(fleet.repositories),
                len(fleet.clusters),
                len(fleet.applications),
            )
        self._fleet, self._published = fleet, published
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
