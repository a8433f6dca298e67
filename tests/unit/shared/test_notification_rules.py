"""The pure rules of notifications: which conditions a status settles, which changes are
news, what a message says and how it is signed."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.notification import (
    FIRING,
    RESOLVED,
    Condition,
    EventKind,
    Notification,
    NotifierKind,
    event_of,
    makes_event,
    pair_conditions,
    rollout_conditions,
    sign,
    slack_body,
    source_condition,
    summary,
    webhook_body,
)
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Phase, Rollout
from fleetsync.shared.model.status import Health, SyncState

REV = Revision.parse("main@sha1:" + "a" * 40)


def status(sync: SyncState, health: Health, **extra: object) -> PairStatus:
    return PairStatus("web", "c1", sync, health, revision=REV, message="m", **extra)  # type: ignore[arg-type]


def tokens(s: PairStatus) -> dict[EventKind, str]:
    return {c.kind: c.token for c in pair_conditions(s)}


def test_a_failed_reconcile_fires_sync_failed_and_says_nothing_of_what_it_could_not_see() -> None:
    assert tokens(status(SyncState.UNKNOWN, Health.UNKNOWN, failed=True)) == {
        EventKind.SYNC_FAILED: FIRING
    }


def test_a_synced_healthy_status_resolves_failure_degradation_and_drift() -> None:
    assert tokens(status(SyncState.SYNCED, Health.HEALTHY)) == {
        EventKind.SYNC_FAILED: RESOLVED,
        EventKind.DEGRADED: RESOLVED,
        EventKind.DRIFT: RESOLVED,
    }


def test_drifted_objects_fire_drift_and_degraded_health_fires_degraded() -> None:
    found = tokens(status(SyncState.OUT_OF_SYNC, Health.DEGRADED, drifted=("core/ConfigMap/a/b",)))
    assert found == {
        EventKind.SYNC_FAILED: RESOLVED,
        EventKind.DEGRADED: FIRING,
        EventKind.DRIFT: FIRING,
    }


def test_a_pair_waiting_for_its_first_render_settles_nothing() -> None:
    assert tokens(status(SyncState.UNKNOWN, Health.UNKNOWN)) == {}


def test_progressing_health_leaves_degraded_as_it_was() -> None:
    assert EventKind.DEGRADED not in tokens(status(SyncState.SYNCED, Health.PROGRESSING))


def condition(kind: EventKind, token: str) -> Condition:
    return Condition(kind, "web", "c1", token)


@pytest.mark.parametrize(
    ("kind", "before", "token", "news"),
    [
        (EventKind.SYNC_FAILED, None, FIRING, True),
        (EventKind.SYNC_FAILED, FIRING, FIRING, False),
        (EventKind.SYNC_FAILED, FIRING, RESOLVED, True),
        (EventKind.SYNC_FAILED, RESOLVED, RESOLVED, False),
        (EventKind.SYNC_FAILED, None, RESOLVED, False),
        (EventKind.ROLLOUT_FINISHED, None, "r1:Complete", True),
        (EventKind.ROLLOUT_FINISHED, "r1:Complete", "r1:Complete", False),
        (EventKind.ROLLOUT_FINISHED, "r1:Complete", "r2:Complete", True),
    ],
)
def test_only_a_change_of_condition_is_news(
    kind: EventKind, before: str | None, token: str, news: bool
) -> None:
    assert makes_event(condition(kind, token), before) is news


def rollout(phase: Phase, reason: str = "") -> Rollout:
    return Rollout(
        id="r1",
        application="web",
        revision=REV,
        digest=Digest("d"),
        started_at=1.0,
        waves=2,
        phase=phase,
        reason=reason,
    )


def test_a_paused_rollout_fires_and_a_finished_one_is_told_once_with_how_it_ended() -> None:
    paused = {c.kind: c for c in rollout_conditions("web", rollout(Phase.PAUSED, "2 failures"))}
    assert paused[EventKind.ROLLOUT_PAUSED].token == FIRING
    assert paused[EventKind.ROLLOUT_PAUSED].message == "2 failures"
    assert EventKind.ROLLOUT_FINISHED not in paused
    done = {c.kind: c for c in rollout_conditions("web", rollout(Phase.ROLLED_BACK, "failures"))}
    assert done[EventKind.ROLLOUT_PAUSED].token == RESOLVED
    assert done[EventKind.ROLLOUT_FINISHED].token == "r1:RolledBack"
    assert done[EventKind.ROLLOUT_FINISHED].message == "RolledBack: failures"
    assert rollout_conditions("web", None) == []


def test_a_source_error_fires_with_its_message_and_clears() -> None:
    assert source_condition("web", "render failed", "main@sha1:b").token == FIRING
    assert source_condition("web", None, "").token == RESOLVED


def test_a_notification_wants_its_events_of_its_applications_and_clusters() -> None:
    n = Notification(
        name="ops",
        kind=NotifierKind.WEBHOOK,
        events=(EventKind.SYNC_FAILED, EventKind.SOURCE_ERROR),
        url_env="X",
        applications=(AppName("web"),),
        clusters=(ClusterName("c1"),),
    )
    failed = event_of(condition(EventKind.SYNC_FAILED, FIRING), id="e", at=1.0)
    assert n.wants(failed)
    assert not n.wants(event_of(condition(EventKind.DRIFT, FIRING), id="e", at=1.0))
    elsewhere = event_of(Condition(EventKind.SYNC_FAILED, "web", "c2", FIRING), id="e", at=1.0)
    assert not n.wants(elsewhere)
    other_app = event_of(Condition(EventKind.SYNC_FAILED, "api", "c1", FIRING), id="e", at=1.0)
    assert not n.wants(other_app)
    source = event_of(Condition(EventKind.SOURCE_ERROR, "web", "", FIRING), id="e", at=1.0)
    assert n.wants(source)  # an application's own event, whatever the clusters
    assert Notification.from_json(n.to_json()) == n


def test_the_webhook_body_is_the_event_with_a_summary_and_its_signature_is_hmac_sha256() -> None:
    event = event_of(
        Condition(EventKind.SYNC_FAILED, "web", "c1", FIRING, str(REV), "cluster down"),
        id="e1",
        at=5.0,
    )
    body = webhook_body(event, "ops")
    data = json.loads(body)
    assert data == {
        "id": "e1",
        "event": "sync-failed",
        "state": "firing",
        "application": "web",
        "cluster": "c1",
        "revision": str(REV),
        "message": "cluster down",
        "at": 5.0,
        "notification": "ops",
        "summary": f"web on c1: sync failed at {REV}: cluster down",
    }
    expected = hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()
    assert sign(body, "k" * 16) == f"sha256={expected}"


def test_the_slack_body_is_an_incoming_webhook_message() -> None:
    event = event_of(Condition(EventKind.DEGRADED, "web", "c1", RESOLVED), id="e", at=1.0)
    data = json.loads(slack_body(event))
    assert data["text"] == ":large_green_circle: fleetsync: web on c1: Healthy again"
    assert data["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": data["text"]}}]
    assert summary(event) == "web on c1: Healthy again"
