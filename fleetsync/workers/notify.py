"""The notify task: deliver one stored event to one notification (fleet.yaml's
`notifications`), on the `notify` queue so that a receiver that is slow or down never holds up
a reconcile. It tries again with backoff while the receiver fails, and waits for the next minute
when the notification's rate is used up."""

from __future__ import annotations

import os

from fleetsync.shared.delivery import deliver_event
from fleetsync.shared.tasking import Job, TaskName, fleet_task
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime


@fleet_task(app, TaskName.DELIVER, runtime=runtime)
def deliver(job: Job, notification: str, event: str, attempt: int = 1) -> dict[str, object]:
    sent = deliver_event(
        job.store,
        job.fleet,
        notification,
        event,
        attempt=attempt,
        environ=os.environ,
        timeout=job.settings.notify_timeout,
    )
    if sent.retry_in is not None:
        job.sender.notify(notification, event, attempt=sent.attempt, countdown=sent.retry_in)
    job.store.incr_stat(f"notify_{sent.result}")
    return {"result": sent.result, "attempt": attempt, "detail": sent.detail}
