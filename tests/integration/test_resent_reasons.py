"""A reconcile that runs for a stronger reason than its message's (a change its coalescing mark
absorbed while a drift check was queued) and stops without ending is sent again for that
stronger reason, not its message's: on a real redis-server, through `run_task` (what every
Celery task runs) and the beat's recovery of lapsed in-flight records (`Sender.resend`).

The task stops by failing mid-way (an error between its work and its bookkeeping), which leaves
its in-flight record to lapse exactly as a worker killed mid-task does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Job, Sender, TaskName, make_celery, run_task


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    sender: Sender

    def fleet_read(self, fleet: Fleet) -> None:
        """Nothing here is sized by the fleet."""


@pytest.fixture
def rt(redis_url: str) -> Runtime:
    settings = Settings(redis_url=redis_url)
    store = Store.connect(redis_url)
    store.publish_fleet(Fleet(), "digest-1")
    return Runtime(settings, store, Sender(make_celery(settings), store))


def test_a_reconcile_stopped_mid_way_runs_again_for_the_stronger_reason_it_took(
    rt: Runtime,
) -> None:
    assert rt.sender.reconcile("web", "c1", reason=Trigger.DRIFT)
    assert not rt.sender.reconcile("web", "c1", reason=Trigger.CHANGE), "absorbed"
    rt.store.lease_seconds = 0.5
    ran_for: list[str] = []

    def body(job: Job, app: str, cluster: str, reason: str) -> None:
        ran_for.append(reason)
        raise RuntimeError("Redis went away between the cluster write and the status")

    message = {"app": "web", "cluster": "c1", "reason": Trigger.DRIFT.value}
    with pytest.raises(RuntimeError):
        run_task(rt, TaskName.RECONCILE, "t1", body, message)
    assert ran_for == [Trigger.CHANGE.value]

    [abandoned] = rt.store.claim_abandoned(now=rt.store.now() + 1)
    assert abandoned.kwargs["reason"] == Trigger.CHANGE.value, abandoned
    rt.sender.resend(abandoned)
    [(_, mark, resent)] = rt.store.overdue_queued("apply", after=-60.0)
    assert json.loads(resent)["kwargs"]["reason"] == Trigger.CHANGE.value, resent
    assert mark.endswith(" change"), mark


def test_a_reconcile_that_ran_for_its_own_reason_keeps_its_record_as_sent(rt: Runtime) -> None:
    assert rt.sender.reconcile("web", "c1", reason=Trigger.CHANGE)
    assert not rt.sender.reconcile("web", "c1", reason=Trigger.DRIFT), "absorbed"
    rt.store.lease_seconds = 0.5

    def body(job: Job, app: str, cluster: str, reason: str) -> None:
        raise RuntimeError("stopped")

    message = {"app": "web", "cluster": "c1", "reason": Trigger.CHANGE.value}
    with pytest.raises(RuntimeError):
        run_task(rt, TaskName.RECONCILE, "t1", body, message)
    [abandoned] = rt.store.claim_abandoned(now=rt.store.now() + 1)
    assert dict(abandoned.kwargs) == message
