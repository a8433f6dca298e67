"""The operator's pin of a rollout as tables: what a new desired state does to the application's
rollout (supersede it, or wait for it), what pin and unpin do, and when a waiting state starts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Phase, Pinned, Rollout, Waiting
from fleetsync.shared.planning.rollout import (
    Admission,
    Arrival,
    RolloutError,
    admit,
    pin,
    settle,
    unpin,
    waiting_note,
)

T0 = 1000.0
NOW = 1500.0
ONE = Revision("main", "1" * 40)
TWO = Revision("main", "2" * 40)
THREE = Revision("main", "3" * 40)
D1, D2, D3 = Digest("d1"), Digest("d2"), Digest("d3")
PIN = Pinned(reason="canary under watch", at=T0 + 10)


def rollout(**changes: object) -> Rollout:
    base = Rollout(
        id="r1",
        application="web",
        revision=ONE,
        digest=D1,
        started_at=T0,
        waves=3,
        phase=Phase.BAKING,
        version=7,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# (what happens, the rollout, the new state's revision and digest, restart, what it does)
ADMISSIONS: list[tuple[str, Rollout | None, Revision, Digest, bool, Admission]] = [
    ("no rollout yet: it starts", None, TWO, D2, False, Admission(Arrival.START)),
    (
        "a newer state supersedes a running rollout that is not pinned",
        rollout(),
        TWO,
        D2,
        False,
        Admission(Arrival.START),
    ),
    (
        "a newer state waits for a pinned rollout, recorded in it",
        rollout(pinned=PIN),
        TWO,
        D2,
        False,
        Admission(
            Arrival.WAITS,
            running=rollout(pinned=PIN, waiting=Waiting(TWO, D2, NOW), updated_at=NOW),
        ),
    ),
    (
        "a yet newer state replaces the one that waits",
        rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        THREE,
        D3,
        False,
        Admission(
            Arrival.WAITS,
            running=rollout(pinned=PIN, waiting=Waiting(THREE, D3, NOW), updated_at=NOW),
        ),
    ),
    (
        "the same waiting state again writes nothing",
        rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        TWO,
        D2,
        False,
        Admission(Arrival.WAITS),
    ),
    (
        "a paused pinned rollout is still in progress: the newer state waits",
        rollout(phase=Phase.PAUSED, pinned=PIN),
        TWO,
        D2,
        False,
        Admission(
            Arrival.WAITS,
            running=rollout(
                phase=Phase.PAUSED, pinned=PIN, waiting=Waiting(TWO, D2, NOW), updated_at=NOW
            ),
        ),
    ),
    (
        "a restart does not override the pin for another state",
        rollout(pinned=PIN),
        TWO,
        D2,
        True,
        Admission(
            Arrival.WAITS,
            running=rollout(pinned=PIN, waiting=Waiting(TWO, D2, NOW), updated_at=NOW),
        ),
    ),
    (
        "a finished pinned rollout holds nothing back: the waiting state starts",
        rollout(phase=Phase.COMPLETE, pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        TWO,
        D2,
        False,
        Admission(Arrival.START),
    ),
    (
        "an aborted pinned rollout holds nothing back either",
        rollout(phase=Phase.ABORTED, pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        TWO,
        D2,
        False,
        Admission(Arrival.START),
    ),
    (
        "an unpinned rollout with a state waiting: the newest supersedes it",
        rollout(waiting=Waiting(TWO, D2, T0 + 20)),
        THREE,
        D3,
        False,
        Admission(Arrival.START),
    ),
    (
        "the state under way again changes nothing",
        rollout(pinned=PIN),
        ONE,
        D1,
        False,
        Admission(Arrival.UNDER_WAY),
    ),
    (
        "a commit back to the pinned state: nothing waits any more",
        rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        ONE,
        D1,
        False,
        Admission(Arrival.UNDER_WAY, running=rollout(pinned=PIN, updated_at=NOW)),
    ),
    (
        "restarting the pinned state keeps its pin and what waits",
        rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
        ONE,
        D1,
        True,
        Admission(Arrival.START, pinned=PIN, waiting=Waiting(TWO, D2, T0 + 20)),
    ),
]


@pytest.mark.parametrize(
    ("what", "r", "revision", "digest", "restart", "expected"),
    ADMISSIONS,
    ids=[row[0] for row in ADMISSIONS],
)
def test_what_a_new_desired_state_does_to_the_rollout(
    what: str,
    r: Rollout | None,
    revision: Revision,
    digest: Digest,
    restart: bool,
    expected: Admission,
) -> None:
    assert admit(r, revision, digest, NOW, restart=restart) == expected


# (the rollout, whether a waiting state starts now)
STARTS = [
    (rollout(), False),
    (rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0)), False),
    (rollout(phase=Phase.PAUSED, pinned=PIN, waiting=Waiting(TWO, D2, T0)), False),
    (rollout(waiting=Waiting(TWO, D2, T0)), True),
    (rollout(phase=Phase.COMPLETE, pinned=PIN, waiting=Waiting(TWO, D2, T0)), True),
    (rollout(phase=Phase.ROLLED_BACK, pinned=PIN, waiting=Waiting(TWO, D2, T0)), True),
    (rollout(phase=Phase.COMPLETE, pinned=PIN), False),
]


@pytest.mark.parametrize(("r", "starts"), STARTS)
def test_a_waiting_state_starts_once_unpinned_or_when_the_pinned_rollout_ends(
    r: Rollout, starts: bool
) -> None:
    assert r.starts_waiting is starts


def test_pin_and_unpin_and_what_they_refuse() -> None:
    pinned = pin(rollout(), "  canary under watch ", NOW)
    assert pinned.pinned == Pinned(reason="canary under watch", at=NOW)
    assert pin(rollout(phase=Phase.PAUSED), "", NOW).pinned == Pinned(reason="", at=NOW)
    with pytest.raises(RolloutError, match="already pinned: canary under watch"):
        pin(pinned, "again", NOW)
    with pytest.raises(RolloutError, match=r"no rollout in progress to pin .* is Complete"):
        pin(rollout(phase=Phase.COMPLETE), "", NOW)
    assert unpin(pinned, NOW + 1).pinned is None
    with pytest.raises(RolloutError, match="is not pinned; nothing to unpin"):
        unpin(rollout(), NOW)
    with pytest.raises(RolloutError, match="no rollout in progress to unpin"):
        unpin(rollout(phase=Phase.ABORTED, pinned=PIN), NOW)
    # Unpinning with a state waiting lets that state start.
    assert unpin(rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0)), NOW).starts_waiting


def test_settle_clears_what_waits() -> None:
    assert settle(None, NOW) is None
    assert settle(rollout(pinned=PIN), NOW) is None
    assert settle(rollout(waiting=Waiting(TWO, D2, T0)), NOW) == rollout(updated_at=NOW)


def test_the_status_says_which_state_waits_and_why() -> None:
    assert waiting_note(rollout(pinned=PIN)) is None
    note = waiting_note(rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0)))
    assert note == (
        "main@sha1:222222222222 waits: the operator pinned the rollout of main@sha1:111111111111 "
        "(canary under watch); it starts from wave 1 once unpinned or when this rollout ends"
    )
    ended = waiting_note(rollout(phase=Phase.COMPLETE, pinned=PIN, waiting=Waiting(TWO, D2, T0)))
    assert ended is not None and "about to start its rollout from wave 1" in ended


def test_the_pin_and_the_waiting_state_survive_the_round_trip_through_json() -> None:
    r = rollout(pinned=PIN, waiting=Waiting(TWO, D2, T0))
    assert Rollout.from_json(r.to_json()) == r
    assert Rollout.from_json(rollout().to_json()).pinned is None
