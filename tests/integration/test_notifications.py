"""Notifications against a real Redis and a real HTTP receiver on loopback: which changes the
beat turns into messages (`due_notifications`), and one delivery (`deliver_event`): signed,
Slack's shape, retried when the receiver is down, slow or failing, refused ones dropped, the
rate per minute kept, and no secret in a log line."""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fleetsync.shared.delivery import MAX_ATTEMPTS, Sent, deliver_event
from fleetsync.shared.fleet import parse_fleet
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.notification import Event, EventKind
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Phase, Rollout, RolloutPlan, Wave
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.notices import Delivery, due_notifications
from fleetsync.shared.store import Store
from tests.support.http_receiver import Receiver, running_receiver

SECRET = "a-signing-secret-of-some-length"
REV = Revision.parse("main@sha1:" + "b" * 40)


def fleet_with(notifications: str) -> Fleet:
    text = f"""\
repositories: [{{name: r, url: https://git.example.com/r.git}}]
clusters: [{{name: c1, kubeconfig: /tmp/c1}}, {{name: c2, kubeconfig: /tmp/c2}}]
applications: [{{name: web, repository: r, path: web, targets: {{clusters: [c1, c2]}}}}]
notifications:
{notifications}"""
    return parse_fleet(text, source="fleet.yaml", base_dir=Path("/tmp"))


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store.connect(redis_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


def pair(cluster: str, sync: SyncState, health: Health, *, failed: bool = False) -> PairStatus:
    return PairStatus("web", cluster, sync, health, revision=REV, message="msg", failed=failed)


FAILED = pair("c1", SyncState.UNKNOWN, Health.UNKNOWN, failed=True)
FINE = pair("c1", SyncState.SYNCED, Health.HEALTHY)


# Which changes make messages


def events_of(store: Store, deliveries: list[Delivery]) -> list[tuple[str, str, str, str]]:
    found = []
    for d in deliveries:
        event = store.event(d.event)
        assert event is not None
        found.append((d.notification, event.kind.value, event.state, event.cluster))
    return found


def test_a_failure_checked_again_and_again_is_one_message_and_its_end_one_more(
    store: Store,
) -> None:
    fleet = fleet_with("  - {name: ops, url_env: U, events: [sync-failed]}\n")
    store.record_status(FINE)
    assert due_notifications(store, fleet) == []  # first seen fine: nothing to say
    store.record_status(FAILED)
    assert events_of(store, due_notifications(store, fleet)) == [
        ("ops", "sync-failed", "firing", "c1")
    ]
    for _ in range(3):
        store.record_status(replace(FAILED, message="still down"))
        assert due_notifications(store, fleet) == []
    store.record_status(FINE)
    assert events_of(store, due_notifications(store, fleet)) == [
        ("ops", "sync-failed", "resolved", "c1")
    ]
    assert due_notifications(store, fleet) == []


def test_each_notification_gets_what_it_asked_for(store: Store) -> None:
    fleet = fleet_with(
        "  - {name: c1-only, url_env: U, events: [sync-failed], clusters: [c1]}\n"
        "  - {name: health, url_env: U, events: [degraded]}\n"
        "  - {name: source, url_env: U, events: [source-error]}\n"
    )
    due_notifications(store, fleet)
    store.record_status(replace(FAILED, cluster="c2"))
    store.record_status(pair("c1", SyncState.SYNCED, Health.DEGRADED))
    store.set_source_error(AppName("web"), "kustomize: build failed", revision=str(REV))
    found = sorted(events_of(store, due_notifications(store, fleet)))
    assert found == [
        ("health", "degraded", "firing", "c1"),
        ("source", "source-error", "firing", ""),
    ]
    store.clear_source_error(AppName("web"))
    assert events_of(store, due_notifications(store, fleet)) == [
        ("source", "source-error", "resolved", "")
    ]


def test_a_pair_failing_before_the_first_look_is_told(store: Store) -> None:
    store.record_status(FAILED)
    fleet = fleet_with("  - {name: ops, url_env: U, events: [sync-failed]}\n")
    assert events_of(store, due_notifications(store, fleet)) == [
        ("ops", "sync-failed", "firing", "c1")
    ]


# One delivery


def stored_event(store: Store, event_id: str = "e1") -> Event:
    event = Event(
        id=event_id,
        kind=EventKind.SYNC_FAILED,
        state="firing",
        application="web",
        cluster="c1",
        revision=str(REV),
        message="cluster down",
        at=1.0,
    )
    store.put_event(event)
    return event


def deliver(
    store: Store, fleet: Fleet, env: dict[str, str], *, attempt: int = 1, timeout: float = 5.0
) -> Sent:
    return deliver_event(
        store,
        fleet,
        fleet.notifications[0].name,
        "e1",
        attempt=attempt,
        environ=env,
        timeout=timeout,
    )


WEBHOOK = fleet_with(
    "  - {name: ops, url_env: HOOK_URL, secret_env: HOOK_SECRET, events: [sync-failed]}\n"
)


def test_a_webhook_gets_the_event_signed_with_the_secret_and_nothing_logs_it(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    stored_event(store)
    url = receiver.url + "?token=path-secret"
    with caplog.at_level(logging.DEBUG):
        sent = deliver(store, WEBHOOK, {"HOOK_URL": url, "HOOK_SECRET": SECRET})
    assert sent.result == "delivered" and sent.retry_in is None
    [message] = receiver.delivered()
    expected = hmac.new(SECRET.encode(), message.body, hashlib.sha256).hexdigest()
    assert message.headers["X-Fleetsync-Signature"] == f"sha256={expected}"
    assert message.headers["Content-Type"] == "application/json"
    assert message.json()["event"] == "sync-failed" and message.json()["id"] == "e1"
    logged = caplog.text + sent.detail
    assert "delivered" in caplog.text
    assert SECRET not in logged and "path-secret" not in logged and "/hooks/fleet" not in logged


def test_slack_gets_its_incoming_webhook_shape_unsigned(store: Store, receiver: Receiver) -> None:
    fleet = fleet_with("  - {name: team, kind: slack, url_env: SLACK_URL, events: [sync-failed]}\n")
    stored_event(store)
    assert deliver(store, fleet, {"SLACK_URL": receiver.url}).result == "delivered"
    [message] = receiver.delivered()
    assert "X-Fleetsync-Signature" not in message.headers
    assert message.json()["text"].startswith(":red_circle: fleetsync: web on c1: sync failed")
    assert message.json()["blocks"][0]["type"] == "section"


def test_a_failing_receiver_is_tried_again_later_honouring_retry_after(
    store: Store, receiver: Receiver
) -> None:
    stored_event(store)
    env = {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    receiver.answer_next(503, headers={"Retry-After": "30"})
    sent = deliver(store, WEBHOOK, env)
    assert sent.result == "retry" and sent.attempt == 2
    assert sent.retry_in is not None and sent.retry_in >= 30 * 0.8
    assert "answered HTTP 503" in sent.detail
    receiver.answer_next(429)
    assert deliver(store, WEBHOOK, env, attempt=2).result == "retry"


def test_a_receiver_that_is_down_is_tried_again(store: Store) -> None:
    stored_event(store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once it is closed
    sent = deliver(
        store, WEBHOOK, {"HOOK_URL": f"http://127.0.0.1:{port}/x", "HOOK_SECRET": SECRET}
    )
    assert sent.result == "retry" and sent.retry_in is not None
    assert "ConnectionRefusedError" in sent.detail


def test_a_slow_receiver_times_out_and_is_tried_again(store: Store, receiver: Receiver) -> None:
    stored_event(store)
    receiver.hold = threading.Event()  # it answers only once released
    env = {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    sent = deliver(store, WEBHOOK, env, timeout=0.3)
    receiver.hold.set()
    assert sent.result == "retry" and sent.retry_in is not None
    assert "timed out" in sent.detail or "Timeout" in sent.detail


def test_a_refused_message_is_dropped_and_one_failing_for_too_long_is_given_up(
    store: Store, receiver: Receiver
) -> None:
    stored_event(store)
    env = {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}
    receiver.answer_next(400)
    sent = deliver(store, WEBHOOK, env)
    assert (sent.result, sent.retry_in) == ("dropped", None)
    assert "answered HTTP 400: the receiver refused the message" in sent.detail
    receiver.answer_next(500)
    last = deliver(store, WEBHOOK, env, attempt=MAX_ATTEMPTS)
    assert last.result == "dropped" and f"gave up after {MAX_ATTEMPTS} attempts" in last.detail


def test_a_missing_url_or_secret_variable_sends_nothing_and_says_which(
    store: Store, receiver: Receiver
) -> None:
    stored_event(store)
    sent = deliver(store, WEBHOOK, {"HOOK_SECRET": SECRET})
    assert sent.result == "dropped"
    assert sent.detail == "HOOK_URL is not set in the notify worker's environment"
    sent = deliver(store, WEBHOOK, {"HOOK_URL": receiver.url})
    assert sent.result == "dropped" and "HOOK_SECRET" in sent.detail and "unsigned" in sent.detail
    assert receiver.all() == []


def test_beyond_its_rate_a_message_waits_for_the_next_minute(
    store: Store, receiver: Receiver
) -> None:
    fleet = fleet_with(
        "  - {name: ops, url_env: HOOK_URL, events: [sync-failed], maxPerMinute: 2}\n"
    )
    stored_event(store)
    env = {"HOOK_URL": receiver.url}
    results = [deliver(store, fleet, env, attempt=3) for _ in range(3)]
    assert [r.result for r in results] == ["delivered", "delivered", "deferred"]
    deferred = results[2]
    assert deferred.attempt == 3  # waiting is not a failed attempt
    assert deferred.retry_in is not None and 0 < deferred.retry_in <= 60.5
    assert len(receiver.all()) == 2


def test_an_event_for_a_notification_no_longer_declared_is_dropped(store: Store) -> None:
    stored_event(store)
    sent = deliver_event(store, WEBHOOK, "gone", "e1", attempt=1, environ={}, timeout=1.0)
    assert (sent.result, sent.detail) == ("dropped", "notification gone is no longer declared")


def test_a_variable_that_holds_no_usable_url_sends_nothing_and_never_echoes_it(
    store: Store,
) -> None:
    stored_event(store)
    for value in ("not a url at all", "ftp://hooks.example.com/secret-path", "http://h:port-x/s"):
        sent = deliver(store, WEBHOOK, {"HOOK_URL": value, "HOOK_SECRET": SECRET})
        assert (sent.result, sent.retry_in) == ("dropped", None)
        assert sent.detail == "HOOK_URL does not hold an http or https URL"


def test_a_rollout_paused_is_told_its_resumption_too_and_its_end_once(store: Store) -> None:
    fleet = fleet_with("  - {name: ops, url_env: U, events: [rollout-paused, rollout-finished]}\n")
    waves = RolloutPlan(waves=(Wave("first", (ClusterName("c1"),)),))
    started = store.start_rollout(
        Rollout(
            id="r1", application="web", revision=REV, digest=Digest("d"), started_at=1.0, waves=1
        ),
        waves,
        previous={},
        progress={},
    )
    assert due_notifications(store, fleet) == []  # moving: nothing to say yet
    paused = store.save_rollout(
        replace(started, phase=Phase.PAUSED, reason="2 clusters failed", paused_by="failures"),
        expected=started.version,
        next_check=None,
    )
    assert paused is not None
    [delivery] = due_notifications(store, fleet)
    event = store.event(delivery.event)
    assert event is not None
    assert (event.kind, event.state, event.message) == (
        EventKind.ROLLOUT_PAUSED,
        "firing",
        "2 clusters failed",
    )
    assert due_notifications(store, fleet) == []
    done = store.save_rollout(
        replace(paused, phase=Phase.COMPLETE, reason=""), expected=paused.version, next_check=None
    )
    assert done is not None
    told = sorted(events_of(store, due_notifications(store, fleet)))
    assert told == [
        ("ops", "rollout-finished", "firing", ""),
        ("ops", "rollout-paused", "resolved", ""),
    ]
    assert due_notifications(store, fleet) == []
