"""The stored status as typed values: triggers as tokens with labels, revisions and digests as
values or None, old stored forms still read, and a status that ages into stale."""

from __future__ import annotations

import json

import pytest

from fleetsync.shared.model import DesiredState, Digest, Pin, Revision, Trigger
from fleetsync.shared.model.report import PairStatus, age, stale_after
from fleetsync.shared.model.status import Health, SyncState

REV = Revision(ref="main", sha="a" * 40)


def _status(**overrides: object) -> PairStatus:
    values: dict[str, object] = {
        "application": "web",
        "cluster": "c1",
        "sync": SyncState.SYNCED,
        "health": Health.HEALTHY,
        "revision": REV,
        "digest": Digest("d" * 64),
        "at": 1000.0,
        "message": "2 unchanged",
        "trigger": Trigger.DRIFT,
        "stale_after": stale_after(1000.0, 300.0),
    }
    values.update(overrides)
    return PairStatus(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trigger", "token", "label"),
    [
        (Trigger.CHANGE, "change", "new desired state"),
        (Trigger.TARGETED, "targeted", "newly targeted"),
        (Trigger.DRIFT, "drift", "drift check"),
        (Trigger.MANUAL, "manual", "manual sync"),
    ],
)
def test_a_trigger_is_a_stable_token_with_a_label_and_reads_back_from_either(
    trigger: Trigger, token: str, label: str
) -> None:
    assert (trigger.value, trigger.label) == (token, label)
    assert Trigger.of(token) is trigger
    assert Trigger.of(label) is trigger


def test_an_unknown_trigger_counts_as_a_change_never_as_a_manual_sync() -> None:
    assert Trigger.of("manual sync (api)") is Trigger.CHANGE
    assert Trigger.of("") is Trigger.CHANGE


def test_a_status_round_trips_through_json_with_tokens_and_typed_values() -> None:
    status = _status()
    stored = json.loads(json.dumps(status.to_json()))
    assert stored["trigger"] == "drift" and stored["revision"] == str(REV)
    assert PairStatus.from_json(stored) == status


def test_a_status_without_revision_or_digest_stores_null_not_an_empty_string() -> None:
    status = _status(revision=None, digest=None)
    stored = status.to_json()
    assert stored["revision"] is None and stored["digest"] is None
    assert PairStatus.from_json(stored) == status


def test_a_status_written_before_typed_values_still_reads() -> None:
    old = {
        "application": "web",
        "cluster": "c1",
        "sync": "Synced",
        "health": "Healthy",
        "revision": "",
        "digest": "",
        "at": 5.0,
        "duration": 0.5,
        "message": "in sync",
        "error_object": None,
        "counts": {"unchanged": 2},
        "changes": [{"key": "core/ConfigMap/n/a", "action": "unchanged", "message": ""}],
        "drifted": [],
        "reason": "manual sync",
    }
    status = PairStatus.from_json(old)
    assert (status.revision, status.digest, status.trigger) == (None, None, Trigger.MANUAL)
    assert status.stale_after is None and status.as_seen(10.0**12) == status
    moved = PairStatus.from_json({**old, "revision": str(REV), "reason": "drift check"})
    assert moved.revision == REV and moved.trigger is Trigger.DRIFT


def test_a_status_not_refreshed_past_its_drift_interval_and_margin_reads_stale() -> None:
    status = _status()
    deadline = stale_after(1000.0, 300.0)
    assert deadline == 1000.0 + 450.0 + 60.0
    assert status.as_seen(deadline) == status
    seen = status.as_seen(deadline + 1)
    assert (seen.sync, seen.health, seen.stale) == (SyncState.UNKNOWN, Health.UNKNOWN, True)
    assert seen.message == "stale: last checked 8m ago (was Synced/Healthy: 2 unchanged)"
    assert (seen.revision, seen.digest, seen.at) == (status.revision, status.digest, status.at)
    assert seen.as_seen(deadline + 3600) == seen


def test_a_status_written_under_watches_leans_on_them_between_its_two_times() -> None:
    status = _status(watched_until=stale_after(1000.0, 3600.0))
    assert PairStatus.from_json(json.loads(json.dumps(status.to_json()))) == status
    short, long = stale_after(1000.0, 300.0), stale_after(1000.0, 3600.0)
    assert [status.leans_on_watch(t) for t in (short, short + 1, long, long + 1)] == [
        False,
        True,
        True,
        False,
    ]
    assert status.as_seen(short) == status
    assert status.as_seen(long, watched=True) == status
    unwatched = status.as_seen(short + 1, watched=False)
    assert (unwatched.sync, unwatched.health, unwatched.stale) == (
        SyncState.UNKNOWN,
        Health.UNKNOWN,
        True,
    )
    assert unwatched.message == (
        "stale: last checked 8m ago, and no live watch covers it now "
        "(was Synced/Healthy: 2 unchanged)"
    )
    late = status.as_seen(long + 1, watched=True)
    assert late.stale and late.message.startswith("stale: last checked 1h ago (was")
    assert not late.leans_on_watch(short + 1)


def test_age_prints_the_largest_whole_unit() -> None:
    assert [age(0.0, n) for n in (59, 60, 3599, 3600, 86400, 200000)] == [
        "59s",
        "1m",
        "59m",
        "1h",
        "1d",
        "2d",
    ]
    assert age(None, 5.0) == "-" and age(10.0, 5.0) == "0s"


def test_desired_state_and_pin_round_trip_with_typed_revisions() -> None:
    desired = DesiredState(
        revision=REV, digest=Digest("d" * 64), renderer="helm", rendered_at=2.0, observed=None
    )
    assert DesiredState.from_json(json.loads(json.dumps(desired.to_json()))) == desired
    old = {**desired.to_json(), "observed": ""}
    assert DesiredState.from_json(old).observed is None
    pin = Pin(revision=REV, digest=Digest("d" * 64), at=3.0)
    assert Pin.from_json(json.loads(json.dumps(pin.to_json()))) == pin


def test_an_unforeseen_error_is_described_by_its_class_and_first_line_only() -> None:
    from fleetsync.shared.errors import PermanentError, describe

    quoted = ValueError('while scanning a simple key\n  in "kubeconfig", line 3\n    token: s3cr3t')
    assert describe(quoted) == "ValueError: while scanning a simple key"
    assert describe(KeyError()) == "KeyError"
    own = "c1: kubeconfig /k is invalid"
    assert describe(PermanentError(own)) == own
