"""Celery, in one place: the app factory, queue and task names, routes, the task decorator and
typed send helpers.

Tasks are named `fleetsync.<queue>.<verb>` and carry ids only (repository, application and
cluster names), never manifests or credentials. Every task is idempotent: acks late, rejected back
to the queue when its worker dies, one message prefetched at a time, results ignored.

Priorities use the Redis transport's priority lists, where 0 is served first: manual triggers
(CLI, API, webhooks) go before periodic polls and drift checks. A trigger for something already
queued with the same or a better priority coalesces into the queued one.

`fleet_task` is what every task shares, so that a task body is its own work only: it clears the
task's coalescing mark (a trigger from now on queues a new run), binds the task's ids to every log
line, returns early while no fleet is published, records the task in flight (renewed while it
runs; the beat enqueues again a task whose record lapsed, see `recover_abandoned`) and counts how
tasks end (`task:<verb>:<done|failed|no_fleet|duplicate>` in the store's stats).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from celery import Celery
from celery.exceptions import OperationalError, Reject
from celery.signals import setup_logging, worker_init
from kombu.entity import Queue as KombuQueue

from fleetsync.shared.broker_transport import BrokerAMQP
from fleetsync.shared.logcontext import configure_logging, log_context
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.trigger import Trigger as Trigger  # re-exported for senders
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import UNAVAILABLE, Abandoned, Reply, Round, Store, celery_broker
from fleetsync.shared.store.lease import HOLD_LIMIT, Renewal, keeper

log = logging.getLogger(__name__)

BROKER_UNAVAILABLE: tuple[type[Exception], ...] = (*UNAVAILABLE, OperationalError)
"""Errors that mean Redis (store or broker) is away for now: the work did not fail, it waits."""
REDIS_WAIT_SECONDS = 30.0
"""How long a task that met an unreachable Redis waits for it before handing its message back."""


class Queue(StrEnum):
    POLL = "poll"
    FETCH = "fetch"
    APPLY = "apply"
    NOTIFY = "notify"


class TaskName(StrEnum):
    POLL = "fleetsync.poll.poll"
    FETCH = "fleetsync.fetch.fetch"
    RECONCILE = "fleetsync.apply.reconcile"
    RECONCILE_CLUSTER = "fleetsync.apply.reconcile_cluster"
    CHECK_HEALTH = "fleetsync.apply.check_health"
    PRUNE_REMOVED = "fleetsync.apply.prune_removed"
    DELIVER = "fleetsync.notify.deliver"

    @property
    def queue(self) -> Queue:
        return Queue(self.value.split(".")[1])

    @property
    def verb(self) -> str:
        return self.value.rsplit(".", 1)[1]

    def ids(self, kwargs: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The ids that make a task's coalescing key, from its arguments; None for tasks that
        are not coalesced (health follow-ups, removals)."""
        match self:
            case TaskName.POLL | TaskName.FETCH:
                repo = str(kwargs["repo"])
                return (repo, "force") if kwargs.get("force") else (repo,)
            case TaskName.RECONCILE:
                pair = (str(kwargs["app"]), str(kwargs["cluster"]))
                if kwargs.get("retry"):
                    return (*pair, "retry")
                return (*pair, "mirror") if kwargs.get("mirror") else pair
            case _:
                return None


class Priority(IntEnum):
    MANUAL = 0
    CHANGE = 3
    PERIODIC = 6

    @classmethod
    def of(cls, trigger: Trigger) -> Priority:
        """The priority a reconcile for `trigger` is queued with."""
        match trigger:
            case Trigger.MANUAL:
                return cls.MANUAL
            case Trigger.DRIFT:
                return cls.PERIODIC
            case _:
                return cls.CHANGE


CeleryApp = Celery

VISIBILITY_TIMEOUT = 3600
"""Seconds before Redis redelivers an unacknowledged task: above the longest task's time limit
and the longest countdown. A task interrupted by a dead worker does not wait for it: its lapsed
in-flight record makes the beat enqueue it again within seconds."""
TASK_TIME_LIMIT = int(HOLD_LIMIT)
QUEUED_SECONDS = 1800.0
"""How long a coalescing mark outlives its message's due time: a message lost with its worker
stops swallowing new triggers after this long."""
BUSY_RETRY = (2.0, 5.0)
"""Countdown range, in seconds, of a task that found its lease held and queued itself again."""


def make_celery(settings: Settings, *, main: str = "fleetsync") -> Celery:
    broker, transport_options = celery_broker(settings.redis_url)
    # BrokerAMQP: a worker that loses its broker survives the cleanup (broker_transport.py).
    app = Celery(main, broker=broker, set_as_current=False, amqp=BrokerAMQP)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_TIME_LIMIT - 60,
        task_routes={name.value: {"queue": name.queue.value} for name in TaskName},
        task_default_queue=Queue.POLL.value,
        # Declared so that Flower's broker page lists every queue, even before it has asked
        # the workers which queues they consume.
        task_queues=[KombuQueue(q.value) for q in Queue],  # type: ignore[no-untyped-call]
        task_default_priority=Priority.PERIODIC.value,
        task_queue_max_priority=10,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
            **transport_options,
        },
        broker_connection_retry_on_startup=True,
        # A worker outlives any Redis outage: it reconnects with backoff, never gives up.
        broker_connection_max_retries=None,
        # Task events only when someone listens: Flower turns them on in running workers
        # (its enable_events), FLEETSYNC_TASK_EVENTS from the start.
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    return app


CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")
"""Where Celery logs a line when a task is received and one when it succeeded, at INFO."""


def _log_with_context(loglevel: int | str | None = None, **_: Any) -> None:
    """Celery processes (workers, beat) log like every fleetsync process: with each line's
    task context, as text or JSON (FLEETSYNC_LOG_FORMAT). Each task logs its own summary line,
    so Celery's "received" and "succeeded" lines show at DEBUG only (its warnings and errors
    always): two lines and a handler lock per task less on a busy apply worker."""
    level = loglevel or logging.INFO
    configure_logging(level=level)
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    quiet = isinstance(numeric, int) and numeric > logging.DEBUG
    for name in CELERY_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)


setup_logging.connect(_log_with_context, weak=False)


def _freeze_startup_heap(**_: Any) -> None:
    """A worker's modules (the kubernetes client's generated models among them) live as long
    as it does: once imported, as the worker starts (before its pool), they are kept out of the
    cyclic collector's scans, so that a full collection walks only what the work allocated (in an
    apply worker one took about 100 ms of CPU, several times a minute during a fleet-wide
    change). Collected first: only what is still reachable is frozen."""
    gc.collect()
    gc.freeze()


worker_init.connect(_freeze_startup_heap, weak=False)


def on_worker_start(app: Celery, hook: Callable[[], None]) -> None:
    """Call `hook` as a worker of `app` starts, in its main process, before its pool does."""

    def started(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is app:
            hook()

    worker_init.connect(started, weak=False)


class TaskRuntime(Protocol):
    """What a worker process holds once (see `fleetsync.workers.runtime`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def sender(self) -> Sender: ...

    def fleet_read(self, fleet: Fleet) -> None:
        """A task read `fleet` (the published declaration): what the process sizes by it."""


class Opened(Protocol):
    """What a task's opening adds to the task's first round trip (a reconcile: its pair's
    lease and reads); `cancel` queues on the closing round what undoes it when the body does
    not run (the lease's release)."""

    def cancel(self, rnd: Round) -> None: ...


Opening = Callable[[Store, Round, Mapping[str, Any]], Opened]
"""Queues a task's own reads on its opening round (see `fleet_task`)."""


@dataclass(frozen=True, slots=True)
class Job:
    """What a task body gets besides its arguments: the process's parts and the published
    declaration, read when the task started."""

    settings: Settings
    store: Store
    sender: Sender
    fleet: Fleet
    task_id: str
    opened: Any = None
    """What the task's opening read in the task's first round trip (None without one)."""
    closing: Round | None = None
    """The task's last round trip: what the body queues here is written with the task's own
    bookkeeping (its in-flight record's end, its counters), in one transaction."""
    after: list[Callable[[], object]] = field(default_factory=list)
    """Called once the closing round is written (tasks to send that must see those writes)."""


TaskBody = Callable[..., object]
"""A task's body; what it returns is the task's outcome as Flower shows it: a small dict of
words and counts (synced/out_of_sync/failed, revision, counts), never manifests or secrets."""


def fleet_task(
    app: Celery,
    name: TaskName,
    *,
    runtime: Callable[[], TaskRuntime],
    opening: Opening | None = None,
) -> Callable[[TaskBody], TaskBody]:
    """Register `body(job, **kwargs)` as the task `name` on `app`, wrapped in what every task
    shares (see the module's docstring); returns the body unchanged (fleetsync sends tasks by
    name only, see Sender). `opening` queues the task's own reads on its first round trip
    (`job.opened`)."""

    def register(body: TaskBody) -> TaskBody:
        def run(task: Any, **kwargs: Any) -> object:
            try:
                return run_task(
                    runtime(), name, str(task.request.id), body, kwargs, opening=opening
                )
            except BROKER_UNAVAILABLE as exc:
                # Not a failure of the work: hand the message back to run again (acked as a
                # failure it would be lost when Redis failed before the task recorded itself).
                log.warning("%s: Redis unavailable (%s); requeued", name.verb, type(exc).__name__)
                _wait_for_broker(app, REDIS_WAIT_SECONDS)
                raise Reject(f"Redis unavailable: {type(exc).__name__}", requeue=True) from exc

        run.__name__ = body.__name__
        run.__doc__ = body.__doc__
        app.task(name=name.value, bind=True, typing=False)(run)
        return body

    return register


def _wait_for_broker(app: Celery, timeout: float) -> None:
    """Wait until the broker's Redis answers (or `timeout` passes), then a moment more, so that
    a message handed back during an outage does not spin through the workers."""
    started = time.monotonic()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=None,
                interval_start=0.2,
                interval_step=0.5,
                interval_max=2.0,
                timeout=timeout,
            )
    except Exception:  # still away after `timeout`: the message goes back anyway
        return
    time.sleep(max(0.0, min(1.0, timeout - (time.monotonic() - started))))


def use_broker(app: Celery, redis_url: str) -> None:
    """Point `app` at the Redis (one server or Sentinel) of `redis_url`."""
    broker, transport_options = celery_broker(redis_url)
    app.conf.broker_url = broker
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        **transport_options,
    }


def run_task(
    rt: TaskRuntime,
    name: TaskName,
    task_id: str,
    body: TaskBody,
    kwargs: Mapping[str, Any],
    *,
    opening: Opening | None = None,
) -> object:
    """Run the body as the task `name`; return its outcome (or why it did not run).

    Two round trips to Redis besides the body's own: the opening (the coalescing mark cleared,
    the fleet's digest, the in-flight record, and what `opening` reads) and the closing (what
    the body queued on `job.closing`, the in-flight record's end, the counters)."""
    store = rt.store
    ids = name.ids(kwargs)
    ttl = store.lease_seconds
    first = store.round()
    marked = rt.sender.started_in(first, name, *ids) if ids is not None else None
    digest = store.queue_fleet_digest(first)
    owner = _owner()
    begun = store.queue_begin_task(first, task_id, name.value, kwargs, owner=owner, ttl=ttl)
    opened = opening(store, first, kwargs) if opening is not None else None
    with log_context(
        repository=kwargs.get("repo"), application=kwargs.get("app"), cluster=kwargs.get("cluster")
    ):
        try:
            first.run()
        except Exception:
            if opened is not None:
                opened.cancel(store.round())  # what it holds in this process (the lease expires)
            raise
        told = kwargs
        kwargs = _with_reason(kwargs, marked.value if marked is not None else None)
        if kwargs != told and begun.value:
            # Run again after a dead worker (or a failure), it runs for this reason too.
            store.retell_task(task_id, name.value, kwargs, owner=owner)
        fleet = store.fleet_at(digest.value)
        if fleet is not None:
            rt.fleet_read(fleet)
        if fleet is None or not begun.value:
            last = store.round(transaction=True)
            if opened is not None:
                opened.cancel(last)
            if fleet is None:
                log.info("%s: no fleet declaration published yet; nothing to do", name.verb)
                if begun.value:
                    store.queue_end_task(last, task_id)
                store.queue_stat(last, f"task:{name.verb}:no_fleet")
                last.run()
                return {"result": "skipped", "why": "no fleet declaration published"}
            log.info("%s %s: already run again after its worker died; dropped", name.verb, task_id)
            store.queue_stat(last, f"task:{name.verb}:duplicate")
            last.run()
            return {"result": "skipped", "why": "already run again after its worker died"}
        renewal = Renewal(f"task {name.verb} {task_id}", lambda: store.renew_task(task_id, ttl=ttl))
        renewer = keeper(ttl)
        renewer.hold(renewal)
        job = Job(
            rt.settings,
            store,
            rt.sender,
            fleet,
            task_id,
            opened=opened,
            closing=store.round(transaction=True),
        )
        try:
            outcome = body(job, **kwargs)
        except Exception:
            # The in-flight record stays and lapses: the beat enqueues the task again, which
            # repairs whatever bookkeeping this run did not finish.
            renewer.drop(renewal)
            log.exception("%s failed; it runs again once its in-flight record lapses", name.verb)
            store.incr_stat(f"task:{name.verb}:failed")
            raise
        renewer.drop(renewal)
        assert job.closing is not None
        store.queue_end_task(job.closing, task_id)
        store.queue_stat(job.closing, f"task:{name.verb}:done")
        job.closing.run()
        for then in job.after:
            then()
        return outcome


def stronger(reason: str, marked: str | None) -> Trigger:
    """The trigger to run for: the message's own, or the stronger one its coalescing mark took
    from a trigger it absorbed."""
    own = Trigger.of(reason)
    if marked is None:
        return own
    other = Trigger.of(marked)
    return other if other.strength > own.strength else own


def _with_reason(kwargs: Mapping[str, Any], marked: str | None) -> Mapping[str, Any]:
    if marked is None or "reason" not in kwargs:
        return kwargs
    reason = stronger(str(kwargs["reason"]), marked)
    return {**kwargs, "reason": reason.value}


def _reason(name: TaskName, kwargs: Mapping[str, Any]) -> tuple[int, str] | None:
    """What a reconcile's mark keeps of its reason (see `ScheduleStore.mark_queued`)."""
    if name is not TaskName.RECONCILE or "reason" not in kwargs:
        return None
    trigger = Trigger.of(str(kwargs["reason"]))
    return trigger.strength, trigger.value


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def busy_countdown() -> float:
    """A short, jittered countdown for a task that found its lease held."""
    return random.uniform(*BUSY_RETRY)


def recover_abandoned(store: Store, sender: Sender) -> list[Abandoned]:
    """Enqueue again every task whose in-flight record lapsed (its worker died, or it failed
    before its bookkeeping); the beat calls this on every tick."""
    found = store.claim_abandoned() + store.claim_stranded()
    for task in found:
        log.warning(
            "%s %s: its worker (%s) stopped without finishing it; enqueued again",
            task.name,
            dict(task.kwargs),
            task.owner or "unknown",
        )
        sender.resend(task)
    return found


def queued_message(name: TaskName, kwargs: Mapping[str, Any], priority: Priority) -> str:
    """What a coalescing mark keeps of its message, to send it again if it is lost."""
    return json.dumps({"name": name.value, "kwargs": dict(kwargs), "priority": int(priority)})


class Sender:
    """Enqueues fleetsync tasks by name, coalescing duplicates through the store."""

    def __init__(self, app: Celery, store: Store) -> None:
        self._app = app
        self._store = store

    def warm(self) -> None:
        """Build now what the first task sent would build: Celery's message machinery (its
        imports, the producer pool, the events dispatcher a send asks for) and a producer
        holding a broker connection with every queue declared, so that a process's first send
        (the API's first webhook) goes out at once. A broker not reachable now is logged and
        left to the first send, which connects as it always did."""
        app = self._app
        app.AsyncResult  # noqa: B018 (imports what a send returns)
        app.events.Dispatcher  # noqa: B018 (imports what a send's event dispatcher is)
        try:
            with app.producer_or_acquire() as producer:
                for queue in app.amqp.queues.values():
                    producer.maybe_declare(queue)
        except (OperationalError, OSError) as e:
            log.warning("the broker is not reachable yet (%s); the first task sent connects", e)

    @staticmethod
    def _ident(name: TaskName, *ids: str) -> str:
        return ":".join((name.value, *ids))

    def _send(
        self,
        name: TaskName,
        ids: tuple[str, ...],
        priority: Priority,
        countdown: float | None = None,
        **kwargs: Any,
    ) -> bool:
        ident = self._ident(name, *ids)
        ttl = (countdown or 0.0) + QUEUED_SECONDS
        if not self._store.mark_queued(
            name.queue,
            ident,
            int(priority),
            ttl=ttl,
            countdown=countdown or 0.0,
            message=queued_message(name, kwargs, priority),
            reason=_reason(name, kwargs),
        ):
            return False
        try:
            self._send_now(name, kwargs, priority, countdown)
        except Exception:
            self._store.clear_queued(name.queue, ident)
            raise
        return True

    def _send_now(
        self,
        name: TaskName,
        kwargs: Mapping[str, Any],
        priority: Priority,
        countdown: float | None = None,
    ) -> None:
        self._app.send_task(
            name.value,
            kwargs=dict(kwargs),
            queue=name.queue.value,
            priority=int(priority),
            countdown=countdown,
        )

    def poll(
        self,
        repo: str,
        *,
        force: bool = False,
        priority: Priority = Priority.PERIODIC,
        fetch: bool = False,
    ) -> bool:
        """Ask for a repository to be polled; False when one is already queued. With `fetch`
        (a webhook's push), a poll that finds the repository moved fetches it in the same task
        instead of queueing a fetch."""
        ids = (repo, "force") if force else (repo,)
        also = {"fetch": True} if fetch else {}
        return self._send(TaskName.POLL, ids, priority, repo=repo, force=force, **also)

    def fetch(
        self,
        repo: str,
        *,
        force: bool = False,
        priority: Priority = Priority.CHANGE,
        countdown: float | None = None,
    ) -> bool:
        ids = (repo, "force") if force else (repo,)
        return self._send(TaskName.FETCH, ids, priority, countdown, repo=repo, force=force)

    def reconcile(
        self,
        app: str,
        cluster: str,
        *,
        reason: Trigger,
        priority: Priority = Priority.CHANGE,
        countdown: float | None = None,
    ) -> bool:
        """Ask for (app, cluster) to be reconciled; False when one is already queued (the
        queued one will read the latest desired state when it runs)."""
        return self._send(
            TaskName.RECONCILE,
            (app, cluster),
            priority,
            countdown,
            app=app,
            cluster=cluster,
            reason=reason.value,
        )

    def reconcile_anew(
        self, app: str, cluster: str, *, reason: Trigger, priority: Priority = Priority.CHANGE
    ) -> bool:
        """`reconcile`, whatever coalescing mark the pair holds: for a check that a message a
        killed sender marked and never sent must not absorb (a watcher taking over a dead
        one's clusters: the dead one may have died between its mark and its send). A message
        really queued runs as well; the pair's lease runs the two one after the other."""
        self._store.clear_queued(Queue.APPLY, self._ident(TaskName.RECONCILE, app, cluster))
        return self.reconcile(app, cluster, reason=reason, priority=priority)

    def retry_reconcile(self, app: str, cluster: str, *, reason: Trigger, countdown: float) -> bool:
        """Queue a failed (or unfinished) reconcile again after `countdown`. It coalesces with
        other retries of the pair only: a drift check or a change meanwhile is queued at once,
        not swallowed by the waiting retry (the cluster may be back before it)."""
        return self._send(
            TaskName.RECONCILE,
            (app, cluster, "retry"),
            Priority.PERIODIC,
            countdown,
            app=app,
            cluster=cluster,
            reason=reason.value,
            retry=True,
        )

    def mirror_intents(self, app: str, cluster: str) -> bool:
        """Have the pair checked (a drift check) so that its cluster's intents mirror takes an
        operator's new decision. It coalesces with other such checks of the pair only: it never
        absorbs a trigger that must apply (nor is absorbed by one)."""
        return self._send(
            TaskName.RECONCILE,
            (app, cluster, "mirror"),
            Priority.CHANGE,
            None,
            app=app,
            cluster=cluster,
            reason=Trigger.DRIFT.value,
            mirror=True,
        )

    def reconcile_on_cluster(
        self, cluster: str, apps: Sequence[str], *, reason: Trigger, priority: Priority
    ) -> list[str]:
        """Ask for many applications to be reconciled on one cluster in one task; each pair
        coalesces like a reconcile of its own (a pair already queued is left to that task).
        The applications it was asked for."""
        ident = TaskName.RECONCILE
        marked = self._store.mark_queued_many(
            ident.queue,
            [self._ident(ident, a, cluster) for a in apps],
            int(priority),
            ttl=QUEUED_SECONDS,
            reason=(reason.strength, reason.value),
            messages=[
                queued_message(
                    ident, {"app": a, "cluster": cluster, "reason": reason.value}, priority
                )
                for a in apps
            ],
        )
        wanted = [a for a, ok in zip(apps, marked, strict=True) if ok]
        if wanted:
            try:
                self._send_now(
                    TaskName.RECONCILE_CLUSTER,
                    {"cluster": cluster, "apps": wanted, "reason": reason.value},
                    priority,
                )
            except Exception:
                for a in wanted:
                    self._store.clear_queued(ident.queue, self._ident(ident, a, cluster))
                raise
        return wanted

    def clear_pair_marks_in(
        self, rnd: Round, cluster: str, apps: Sequence[str]
    ) -> dict[str, Reply[str | None]]:
        """As a batch task starts: a trigger of any of its pairs queues a new run. The reason
        each pair's mark held (a stronger trigger it absorbed, see `started_in`)."""
        idents = [self._ident(TaskName.RECONCILE, a, cluster) for a in apps]
        taken = self._store.queue_take_queued_many(rnd, Queue.APPLY, idents)
        return dict(zip(apps, taken, strict=True))

    def check_health(self, app: str, cluster: str, *, attempt: int, countdown: float) -> None:
        """Schedule a follow-up health check (not coalesced: it is a chain of one)."""
        self._send_now(
            TaskName.CHECK_HEALTH,
            {"app": app, "cluster": cluster, "attempt": attempt},
            Priority.PERIODIC,
            countdown,
        )

    def prune_removed(self, app: str, cluster: str, *, countdown: float | None = None) -> None:
        self._send_now(
            TaskName.PRUNE_REMOVED, {"app": app, "cluster": cluster}, Priority.CHANGE, countdown
        )

    def notify(
        self, notification: str, event: str, *, attempt: int = 1, countdown: float | None = None
    ) -> None:
        """Deliver a stored event to a notification (on the notify queue, away from the
        reconciles: a slow receiver holds up no sync)."""
        self._send_now(
            TaskName.DELIVER,
            {"notification": notification, "event": event, "attempt": attempt},
            Priority.CHANGE,
            countdown,
        )

    def send_again(self, name: TaskName, kwargs: Mapping[str, Any], priority: Priority) -> bool:
        """Send a task whose message was lost (its mark already dropped) as it was sent."""
        ids = name.ids(kwargs)
        if ids is None:
            self._send_now(name, kwargs, priority)
            return True
        return self._send(name, ids, priority, **kwargs)

    def resend(self, task: Abandoned) -> None:
        """Enqueue an abandoned task again, whatever coalescing mark its lost message left."""
        name = TaskName(task.name)
        ids = name.ids(task.kwargs)
        if ids is not None:
            self._store.clear_queued(name.queue, self._ident(name, *ids))
            trigger = Trigger.of(str(task.kwargs.get("reason", "")))
            priority = Priority.of(trigger) if name is TaskName.RECONCILE else Priority.CHANGE
            self._send(name, ids, priority, **task.kwargs)
        else:
            self._send_now(name, task.kwargs, Priority.CHANGE)

    def started_in(self, rnd: Round, name: TaskName, *ids: str) -> Reply[str | None]:
        """`started` as part of the task's opening round; the reason its mark held, which is
        stronger than the message's own when the message absorbed a stronger trigger while it
        was queued (a change after a drift check): the task runs for that one."""
        return self._store.queue_take_queued(rnd, name.queue, self._ident(name, *ids))

    def started(self, name: TaskName, *ids: str) -> None:
        """A task calls this as it starts, so later triggers are queued again."""
        self._store.clear_queued(name.queue, self._ident(name, *ids))
