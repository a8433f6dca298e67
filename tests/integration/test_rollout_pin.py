"""The operator's pin of a rollout against a real Redis: a newer desired state that arrives while
the running rollout is pinned is not written (it waits, recorded in the rollout), a commit back to
the pinned state leaves nothing waiting, a new rollout never replaces one that changed (a pin
landing) between the fetch's decision and its write, and the beat's controller has the waiting
state fetched again once the pinned rollout ended (real Celery messages in Redis)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from fleetsync.scheduler.rollouts import WAITING_LOOK, RolloutController
from fleetsync.shared.fleet import parse_fleet
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Phase
from fleetsync.shared.planning import rollout as planner
from fleetsync.shared.rollouts import admit_desired
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery

WEB = AppName("web")


def state(n: int) -> DesiredState:
    return DesiredState(
        revision=Revision("main", str(n) * 40), digest=Digest(f"d{n}"), renderer="x", rendered_at=1
    )


def declared(rollout: str) -> Fleet:
    text = f"""\
repositories: [{{name: r, url: https://git.example.com/r.git}}]
clusters: [{{name: c1, kubeconfig: /tmp/c1}}, {{name: c2, kubeconfig: /tmp/c2}}]
applications:
  - name: web
    repository: r
    path: web
    targets: {{clusters: [c1, c2]}}
    {rollout}
"""
    return parse_fleet(text, source="fleet.yaml", base_dir=Path("/tmp"))


@pytest.fixture
def fleet() -> Fleet:
    return declared("rollout: {waves: [{name: canary, clusters: [c1]}], bake: 1h}")


@pytest.fixture
def store(redis_url: str, fleet: Fleet) -> Store:
    found = Store.connect(redis_url)
    found.set_desired(WEB, state(1))
    return found


def arrive(store: Store, fleet: Fleet, n: int) -> bool:
    """What the fetch does with a new render: admitted, it is written."""
    admitted = admit_desired(store, fleet, WEB, state(n))
    if admitted:
        store.set_desired(WEB, state(n))
    return admitted


def test_a_newer_state_waits_for_a_pinned_rollout_and_is_not_written(
    store: Store, fleet: Fleet
) -> None:
    assert arrive(store, fleet, 2)
    running = store.rollout(WEB)
    assert running is not None and running.digest == "d2"
    pinned = store.save_rollout(
        planner.pin(running, "watching", store.now()), expected=running.version, next_check=1.0
    )
    assert pinned is not None
    assert not arrive(store, fleet, 3)
    desired = store.desired(WEB)
    assert desired is not None and desired.digest == "d2"
    waiting = store.rollout(WEB)
    assert waiting is not None and waiting.id == running.id and waiting.waiting is not None
    assert waiting.waiting.digest == "d3" and not waiting.starts_waiting
    # A yet newer one takes its place; a commit back to the pinned state leaves none waiting.
    assert not arrive(store, fleet, 4)
    latest = store.rollout(WEB)
    assert latest is not None and latest.waiting is not None and latest.waiting.digest == "d4"
    assert arrive(store, fleet, 2)
    settled = store.rollout(WEB)
    assert settled is not None and settled.id == running.id and settled.waiting is None
    assert settled.pinned is not None and settled.pinned.reason == "watching"


def test_without_the_pin_a_newer_state_supersedes_the_rollout(store: Store, fleet: Fleet) -> None:
    assert arrive(store, fleet, 2)
    first = store.rollout(WEB)
    assert arrive(store, fleet, 3)
    second = store.rollout(WEB)
    assert first is not None and second is not None
    assert second.digest == "d3" and second.id != first.id and second.wave == 0


def test_a_new_rollout_replaces_only_the_rollout_its_decision_read(
    store: Store, fleet: Fleet
) -> None:
    assert arrive(store, fleet, 2)
    read = store.rollout(WEB)
    assert read is not None
    # The operator pins it after the fetch read it...
    pinned = store.save_rollout(
        planner.pin(read, "", store.now()), expected=read.version, next_check=1.0
    )
    assert pinned is not None
    plan = store.rollout_plan(WEB)
    assert plan is not None
    other = replace(read, id="other", digest=Digest("d3"))
    # ...so the rollout that fetch decided on is not written over the pinned one.
    assert store.start_rollout(other, plan, {}, {}, replacing=read.version) is None
    kept = store.rollout(WEB)
    assert kept is not None and kept.id == read.id and kept.pinned is not None
    assert store.start_rollout(other, plan, {}, {}, replacing=kept.version) is not None


def fetches(store: Store) -> list[dict[str, object]]:
    """The fetch tasks queued (every priority's list)."""
    found = []
    for priority in range(10):
        queue = "fetch" if priority == 0 else f"fetch:{priority}"
        for raw in store.client.lrange(queue, 0, -1):
            _, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
            found.append(kwargs)
    return found


def waiting_for_pin(store: Store, fleet: Fleet) -> None:
    """The rollout of 2 pinned, 3 waiting for it."""
    assert arrive(store, fleet, 2)
    running = store.rollout(WEB)
    assert running is not None
    pinned = planner.pin(running, "", store.now())
    assert store.save_rollout(pinned, expected=running.version, next_check=store.now())
    assert not arrive(store, fleet, 3)


def test_the_beat_fetches_the_waiting_state_again_once_the_pinned_rollout_ends(
    store: Store, fleet: Fleet, redis_url: str
) -> None:
    controller = RolloutController(store, Sender(make_celery(Settings(redis_url=redis_url)), store))
    waiting_for_pin(store, fleet)
    controller.tick(fleet)
    assert fetches(store) == []  # pinned and in progress: the newer state waits
    r = store.rollout(WEB)
    assert r is not None
    aborted = planner.abort(r, store.rollout_progress(WEB), store.now()).rollout
    assert store.save_rollout(aborted, expected=r.version, next_check=store.now())
    report = controller.tick(fleet)
    assert report.fetches == ["web"] and fetches(store) == [{"repo": "r", "force": True}]
    # Until that fetch starts the waiting state's rollout, the beat keeps asking for it.
    assert store.due_rollouts(store.now() + WAITING_LOOK + 1) == ["web"]


def test_a_waiting_state_written_without_a_rollout_waits_no_more(
    store: Store, fleet: Fleet, redis_url: str
) -> None:
    controller = RolloutController(store, Sender(make_celery(Settings(redis_url=redis_url)), store))
    waiting_for_pin(store, fleet)
    # The rollout policy is removed: the pinned rollout ends, the waiting state is fetched...
    without = declared("sync: {automated: true}")
    assert controller.tick(without).fetches == ["web"]
    # ...and written as it is, with no rollout: nothing waits for the ended rollout any more.
    assert arrive(store, without, 3)
    later = store.now() + WAITING_LOOK + 1
    assert controller.tick(without, now=later).fetches == []
    ended = store.rollout(WEB)
    assert ended is not None and ended.waiting is None and ended.phase is Phase.COMPLETE
    assert store.due_rollouts(later + 3600) == []
