"""A rollout read back from a cluster's mirror after Redis lost its data (`restore_rollout`,
against a real redis-server): taken whole, every field of its record carried (a field the record
gains included, without fleetsync naming it), replaced only by a later version of the same
rollout while nobody wrote it since, never over a rollout of Redis's current life."""

from __future__ import annotations

import json
from typing import Any

from fleetsync.shared.model.rollout import Phase, Rollout
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot, rollout_mark
from fleetsync.shared.store import Store

DIGEST = "d" * 64


def record(version: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "application": "web",
        "revision": "main@sha1:" + "b" * 40,
        "digest": DIGEST,
        "started_at": 10.0,
        "waves": 2,
        "phase": "Paused",
        "wave": 0,
        "wave_started_at": 10.0,
        "bake_started_at": 11.0,
        "promoted": None,
        "reason": "paused by the operator",
        "paused_by": "operator",
        "previous": "main@sha1:" + "a" * 40,
        "updated_at": 12.0,
        "version": version,
        **extra,
    }


def snapshot(version: int, **extra: Any) -> RolloutSnapshot:
    return RolloutSnapshot(
        record=record(version, **extra),
        plan={
            "waves": [{"name": "canary", "clusters": ["c1"]}, {"name": "rest", "clusters": ["c2"]}]
        },
        previous={
            "c1": f"{'e' * 64} main@sha1:{'a' * 40}",
            "c2": f"{'e' * 64} main@sha1:{'a' * 40}",
        },
        progress={"c1": {"r": 10.0, "v": "ready", "s": 11.0, "m": ""}},
    )


def test_a_mirrored_rollout_is_read_back_whole_with_fields_fleetsync_does_not_name(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    pin = {"revision": "main@sha1:" + "c" * 40, "digest": "f" * 64}
    assert store.restore_rollout("web", snapshot(4, pin=pin))
    raw = json.loads(store.client.get(store.key("rollout", "web")) or b"{}")
    assert raw["pin"] == pin, "a field of the record fleetsync does not name is carried"
    rollout = store.rollout("web")
    assert rollout is not None and rollout.phase is Phase.PAUSED and rollout.version == 4
    assert store.rollout_plan("web") is not None
    assert set(store.rollout_progress("web")) == {"c1"}
    assert set(store.rollout_previous("web", ["c1", "c2"])) == {"c1", "c2"}
    assert "web" in store.active_rollouts(), "the beat's controller looks at it"
    again = store.rollout_snapshot("web")
    assert again is not None and again.record == raw and again.mark == snapshot(4, pin=pin).mark


def test_a_later_version_replaces_a_restored_rollout_until_someone_writes_it(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    assert store.restore_rollout("web", snapshot(4))
    assert not store.restore_rollout("web", snapshot(3)), "an older mirror"
    assert store.restore_rollout("web", snapshot(6)), "a later mirror of the same rollout"
    current = store.rollout("web")
    assert current is not None and current.version == 6
    saved = store.save_rollout(current, expected=6, next_check=None)
    assert saved is not None and saved.version == 7
    assert not store.restore_rollout("web", snapshot(9)), "written in this life of Redis"
    other = Rollout.from_json({**record(1), "id": "r2"})
    store.forget_rollout("web")
    store.start_rollout(other, store_plan(), {}, {})
    assert not store.restore_rollout("web", snapshot(12)), "a rollout this life started"


def store_plan() -> Any:
    from fleetsync.shared.model.rollout import RolloutPlan

    return RolloutPlan.from_json(snapshot(1).plan)


def test_the_mark_follows_what_matters_and_not_what_every_write_bumps() -> None:
    base = rollout_mark(record(1), 1)
    assert rollout_mark(record(2, updated_at=99.0, reason="other words"), 1) == base
    assert rollout_mark({**record(1), "phase": "Baking"}, 1) != base
    assert rollout_mark(record(1), 2) != base, "one more cluster reached"
    assert rollout_mark(record(1, pin={"revision": "x"}), 1) != base, "a field it gains"
    assert rollout_mark({**record(1), "phase": "Complete"}, 1) == "", "nothing to mirror"
    assert rollout_mark(None, 0) == ""
