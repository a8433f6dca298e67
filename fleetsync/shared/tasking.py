"""Celery, in one place: the app factory, queue and task names, routes and typed send helpers.

Tasks are named `fleetsync.<queue>.<verb>` and carry ids only (repository, application and
cluster names), never manifests or credentials. Every task is idempotent: acks late, rejected back
to the queue when its worker dies, one message prefetched at a time, results ignored.

Priorities use the Redis transport's priority lists, where 0 is served first: manual triggers
(CLI, API, webhooks) go before periodic polls and drift checks. A trigger for something already
queued with the same or a better priority coalesces into the queued one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

from celery import Celery

from fleetsync.shared.model.trigger import Trigger as Trigger  # re-exported for senders
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store


class Queue(StrEnum):
    POLL = "poll"
    FETCH = "fetch"
    APPLY = "apply"


class TaskName(StrEnum):
    POLL = "fleetsync.poll.poll"
    FETCH = "fleetsync.fetch.fetch"
    RECONCILE = "fleetsync.apply.reconcile"
    CHECK_HEALTH = "fleetsync.apply.check_health"
    PRUNE_REMOVED = "fleetsync.apply.prune_removed"

    @property
    def queue(self) -> Queue:
        return Queue(self.value.split(".")[1])


class Priority(IntEnum):
    MANUAL = 0
    CHANGE = 3
    PERIODIC = 6


CeleryApp = Celery
F = TypeVar("F", bound=Callable[..., None])

VISIBILITY_TIMEOUT = 3600
"""Seconds before Redis redelivers an unacknowledged task: above the longest task's time limit."""
TASK_TIME_LIMIT = 1800


def make_celery(settings: Settings, *, main: str = "fleetsync") -> Celery:
    app = Celery(main, broker=settings.redis_url, set_as_current=False)
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
        task_default_priority=Priority.PERIODIC.value,
        task_queue_max_priority=10,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    return app


def define_task(app: Celery, name: TaskName) -> Callable[[F], F]:
    """Register a function as the task `name` on `app` and return the function unchanged:
    fleetsync sends tasks by name only (see Sender), so callers never need the Task object."""

    def register(fn: F) -> F:
        app.task(name=name.value)(fn)
        return fn

    return register


class Sender:
    """Enqueues fleetsync tasks by name, coalescing duplicates through the store."""

    def __init__(self, app: Celery, store: Store) -> None:
        self._app = app
        self._store = store

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
        if not self._store.mark_queued(name.queue, ident, int(priority)):
            return False
        try:
            self._app.send_task(
                name.value,
                kwargs=kwargs,
                queue=name.queue.value,
                priority=int(priority),
                countdown=countdown,
            )
        except Exception:
            self._store.clear_queued(name.queue, ident)
            raise
        return True

    def poll(
        self, repo: str, *, force: bool = False, priority: Priority = Priority.PERIODIC
    ) -> bool:
        """Ask for a repository to be polled; False when one is already queued."""
        ids = (repo, "force") if force else (repo,)
        return self._send(TaskName.POLL, ids, priority, repo=repo, force=force)

    def fetch(
        self, repo: str, *, force: bool = False, priority: Priority = Priority.CHANGE
    ) -> bool:
        ids = (repo, "force") if force else (repo,)
        return self._send(TaskName.FETCH, ids, priority, repo=repo, force=force)

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

    def check_health(self, app: str, cluster: str, *, attempt: int, countdown: float) -> None:
        """Schedule a follow-up health check (not coalesced: it is a chain of one)."""
        self._app.send_task(
            TaskName.CHECK_HEALTH.value,
            kwargs={"app": app, "cluster": cluster, "attempt": attempt},
            queue=Queue.APPLY.value,
            countdown=countdown,
            priority=int(Priority.PERIODIC),
        )

    def prune_removed(self, app: str, cluster: str) -> None:
        self._app.send_task(
            TaskName.PRUNE_REMOVED.value,
            kwargs={"app": app, "cluster": cluster},
            queue=Queue.APPLY.value,
            priority=int(Priority.CHANGE),
        )

    def started(self, name: TaskName, *ids: str) -> None:
        """A task calls this as it starts, so later triggers are queued again."""
        self._store.clear_queued(name.queue, self._ident(name, *ids))
