"""Notifications out, end to end: real git, real Redis, real Celery workers (the notify queue
among them), the beat's tick and a kubesim cluster that goes down and comes back, with a real
HTTP receiver on loopback. One message per change of state, signed; the receiver's failures
are retried."""

from __future__ import annotations

import hashlib
import hmac
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.model.status import Health, SyncState
from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.http_receiver import Received, Receiver, running_receiver
from tests.support.waiting import wait_for

SECRET = "receiver-signing-secret-0123"
URL_VAR = "FLEETSYNC_TEST_HOOK_URL"
SECRET_VAR = "FLEETSYNC_TEST_HOOK_SECRET"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {value: '1'}\n"


def fleet_yaml(url: str, sim: Simulator) -> str:
    return textwrap.dedent(f"""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
          - {{name: c1, kubeconfig: {sim.kubeconfig_path("c1")}}}
        applications:
          - name: web
            repository: platform
            path: apps/web
            namespace: web
            targets: {{clusters: [c1]}}
            sync: {{driftInterval: 1s, createNamespace: true}}
        notifications:
          - name: ops
            url_env: {URL_VAR}
            secret_env: {SECRET_VAR}
            events: [sync-failed]
        """)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with running_receiver() as found:
        # The workers run in this process: its environment is the notify worker's.
        monkeypatch.setenv(URL_VAR, found.url)
        monkeypatch.setenv(SECRET_VAR, SECRET)
        yield found


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo, receiver: Receiver
) -> Iterator[Harness]:
    git_repo.write("apps/web/config.yaml", CONFIGMAP)
    git_repo.commit("web")
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=("c1",),
        fleet_yaml=fleet_yaml,
    ) as harness:
        yield harness


def signed(message: Received) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), message.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(message.headers.get("X-Fleetsync-Signature", ""), expected)


def _feed_id(position: str | None) -> tuple[int, int]:
    ms, _, seq = (position or "0-0").partition("-")
    return int(ms), int(seq or 0)


def wait_until_looked_at_everything(h: Harness) -> None:
    """Wait until the beat has read every status written so far (its feed position passed
    the newest entry), so what it did not send by then it decided not to send."""
    newest = _feed_id(h.store.feed_position())
    wait_for(
        lambda: _feed_id(h.store.notify_position()) >= newest,
        timeout=30,
        what="the beat's notifier reading the statuses written so far",
    )


def test_a_failure_is_one_signed_message_and_its_recovery_the_next(
    fleet: Harness, receiver: Receiver
) -> None:
    fleet.wait_synced_healthy("web", ["c1"])
    wait_until_looked_at_everything(fleet)
    assert receiver.all() == []  # a pair seen fine for the first time says nothing

    fleet.sim.cluster("c1").set_fault(down=True)
    first = receiver.wait_delivered(1, what="the failure's message")[0]
    assert signed(first)
    body = first.json()
    assert (body["event"], body["state"], body["application"], body["cluster"]) == (
        "sync-failed",
        "firing",
        "web",
        "c1",
    )
    assert body["notification"] == "ops" and body["summary"].startswith("web on c1: sync failed")
    assert first.headers["X-Fleetsync-Event"] == "sync-failed"
    assert first.headers["X-Fleetsync-Delivery"] == body["id"]

    # The cluster stays down: drift checks and retries keep failing, and none is news.
    failures = fleet.store.key("pair", "web", "c1", "failures")
    wait_for(
        lambda: int(fleet.store.client.get(failures) or 0) >= 3,
        timeout=60,
        what="three failed reconciles in a row",
    )
    wait_until_looked_at_everything(fleet)
    assert fleet.store.stats().get("notify_events") == 1
    assert len(receiver.all()) == 1

    fleet.sim.cluster("c1").clear_faults()
    second = receiver.wait_delivered(2, what="the recovery's message")[1]
    assert signed(second)
    assert (second.json()["event"], second.json()["state"]) == ("sync-failed", "resolved")
    assert second.json()["id"] != body["id"]
    status = fleet.status("web", "c1")
    assert status is not None and status.sync is SyncState.SYNCED
    assert status.health is Health.HEALTHY


def test_a_receiver_that_fails_gets_the_message_again_until_it_takes_it(
    fleet: Harness, receiver: Receiver
) -> None:
    fleet.wait_synced_healthy("web", ["c1"])
    receiver.answer_next(503, 503)
    fleet.sim.cluster("c1").set_fault(down=True)
    taken = receiver.wait_delivered(1, what="the message after two refusals")[0]
    tries = receiver.all()
    assert [r.answered for r in tries] == [503, 503, 200]
    # The same event each time, signed each time; the reconciles went on meanwhile.
    assert {r.headers["X-Fleetsync-Delivery"] for r in tries} == {taken.json()["id"]}
    assert all(signed(r) for r in tries)
    counted = wait_for(
        lambda: (stats := fleet.store.stats()).get("notify_delivered") and stats,
        timeout=30,
        what="the delivery counted",
    )
    assert (counted.get("notify_retry"), counted["notify_delivered"]) == (2, 1)
