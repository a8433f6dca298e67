"""Operators' intents per application (suspension, a rollback pin) and what survives a loss of
Redis's data: the store's life (`epoch`, a random id created by the first reader, so a Redis
that lost everything starts a new one), when operators last changed an application's intents,
and which intents each pair's cluster mirror holds (so a reconcile reads the mirror only when
it may be behind, or when Redis may have lost what it says).

An operator's change (`set_pin`, `set_suspended`) stamps `app:<name>:intents_at`; intents read
back from a cluster's mirror after a loss are stamped `r:<at>` (restored) and give way to a
mirror of later intents, never to an operator's change made since.

A rollout (its record, plan, previous and progress, `store/rollouts.py`) is mirrored too, as a
`RolloutSnapshot`. One read back after a loss (`restore_rollout`) is marked
`rollout:<app>:restored` with its version: a mirror of a later version of the same rollout
replaces it while nobody wrote the rollout since; a rollout started or moved in this life of
Redis is never replaced.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from fleetsync.shared.model.desired import DesiredState, Intents, Pin
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot, rollout_mark
from fleetsync.shared.store.base import StoreBase, text

_RESTORE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 2) ~= 'r:' then return 0 end
  if tonumber(string.sub(cur, 3)) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], 'r:' .. ARGV[1])
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2]) end
if ARGV[3] == '1' then redis.call('SET', KEYS[3], '1') else redis.call('DEL', KEYS[3]) end
return 1
"""

# KEYS: rollout, plan, previous, progress, rollouts, restored, desired.
# ARGV: record, plan, id, version, app, now, #previous, desired ('' to keep it), previous
# pairs..., progress pairs...
_RESTORE_ROLLOUT = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local held = cjson.decode(cur)
  if not held['after_loss'] then
    local mark = redis.call('GET', KEYS[6])
    if not mark then return 0 end
    if tonumber(held['version']) ~= tonumber(mark) then return 0 end
    if held['id'] ~= ARGV[3] or tonumber(held['version']) >= tonumber(ARGV[4]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[8] ~= '' then redis.call('SET', KEYS[7], ARGV[8]) end
redis.call('DEL', KEYS[3], KEYS[4])
local split = 9 + 2 * tonumber(ARGV[7])
for i = 9, split - 1, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = split, #ARGV, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[5])
redis.call('SET', KEYS[6], ARGV[4])
return 1
"""


@dataclass(frozen=True, slots=True)
class IntentsView:
    """One read of what a reconcile needs to keep a pair's mirror current."""

    epoch: str
    intents: Intents
    restored: bool
    """The intents came from a cluster's mirror after a loss, not from an operator since."""
    mirrored: str | None
    """The fingerprint the pair's cluster mirror was last written with, in this epoch."""
    rollout: str = ""
    """The application's rollout's `rollout_mark` ("" when it has none worth mirroring)."""
    mirror_note: str = ""
    """What the pair's cluster mirror could not keep when it was last written ("" if none)."""

    def fingerprint(self) -> str:
        """What the pair's mirror holds when it is current, in one comparable string."""
        return f"{self.intents.fingerprint(self.epoch)}|{self.rollout}"

    @property
    def any(self) -> bool:
        """Whether there is anything to mirror."""
        return self.intents.any or bool(self.rollout)


def intents_view_of(
    epoch: str,
    *,
    suspended: bool,
    pin: Pin | None,
    stamp: str,
    mirrored: str | None,
    rollout: bytes | str | None = None,
    reached: int = 0,
) -> IntentsView:
    """The `IntentsView` of what was read: `stamp` is `app:<name>:intents_at` ("" if absent),
    `rollout` the application's rollout record as stored, `reached` its progress's length."""
    fingerprint, _, note = mirrored.partition("\n") if mirrored is not None else (None, "", "")
    return IntentsView(
        epoch=epoch,
        intents=Intents(suspended=suspended, pin=pin, at=float(stamp.removeprefix("r:") or 0.0)),
        restored=stamp.startswith("r:"),
        mirrored=fingerprint,
        mirror_note=note,
        rollout=rollout_mark(json.loads(rollout) if rollout else None, reached),
    )


def mirrored_value(fingerprint: str, note: str) -> str:
    """What `intents_mirrored` holds for a pair: the fingerprint, and the note on a line of
    its own."""
    return f"{fingerprint}\n{note}" if note else fingerprint


def new_epoch() -> str:
    """A fresh id for the store's life, set by the first reader that finds none."""
    return uuid.uuid4().hex


class IntentsStore(StoreBase):
    def epoch(self) -> str:
        key = self.key("epoch")
        self._r.set(key, new_epoch(), nx=True)
        return text(self._r.get(key) or b"")

    def set_suspended(self, app: str, suspended: bool) -> None:
        pipe = self._r.pipeline()
        if suspended:
            pipe.set(self.key("app", app, "suspended"), "1")
        else:
            pipe.delete(self.key("app", app, "suspended"))
        pipe.set(self.key("app", app, "intents_at"), repr(self.now()))
        pipe.execute()

    def is_suspended(self, app: str) -> bool:
        return bool(self._r.exists(self.key("app", app, "suspended")))

    def pin(self, app: str) -> Pin | None:
        raw = self._r.get(self.key("app", app, "pin"))
        return Pin.from_json(json.loads(raw)) if raw is not None else None

    def set_pin(self, app: str, pin: Pin | None) -> None:
        pipe = self._r.pipeline()
        if pin is None:
            pipe.delete(self.key("app", app, "pin"))
        else:
            pipe.set(self.key("app", app, "pin"), json.dumps(pin.to_json()))
        pipe.set(self.key("app", app, "intents_at"), repr(self.now()))
        pipe.execute()

    def intents_view(self, app: str, cluster: str) -> IntentsView:
        """Everything `keep_intents` needs, in one round trip."""
        pipe = self._r.pipeline()
        pipe.set(self.key("epoch"), new_epoch(), nx=True)
        pipe.get(self.key("epoch"))
        pipe.get(self.key("app", app, "suspended"))
        pipe.get(self.key("app", app, "pin"))
        pipe.get(self.key("app", app, "intents_at"))
        pipe.hget(self.key("intents_mirrored", cluster), app)
        pipe.get(self.key("rollout", app))
        pipe.hlen(self.key("rollout", app, "progress"))
        _, epoch_raw, suspended, pin, at, mirrored, rollout, reached = pipe.execute()
        epoch = text(epoch_raw or b"")
        return intents_view_of(
            epoch,
            suspended=suspended is not None,
            pin=Pin.from_json(json.loads(pin)) if pin is not None else None,
            stamp=text(at) if at is not None else "",
            mirrored=text(mirrored) if mirrored is not None else None,
            rollout=rollout,
            reached=int(reached or 0),
        )

    def restore_intents(self, app: str, intents: Intents) -> bool:
        """Take `intents` read from a cluster's mirror, unless an operator changed the
        application's intents in this store's life or a mirror of later ones was restored;
        whether they were taken."""
        pin = json.dumps(intents.pin.to_json()) if intents.pin else ""
        keys = (
            self.key("app", app, "intents_at"),
            self.key("app", app, "pin"),
            self.key("app", app, "suspended"),
        )
        args = (repr(intents.at), pin, "1" if intents.suspended else "0")
        return bool(self._r.eval(_RESTORE, 3, *keys, *args))

    def rollout_snapshot(self, app: str) -> RolloutSnapshot | None:
        """The application's rollout as Redis holds it, in one round trip; None when it has
        none (or its plan is missing)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.get(self.key("rollout", app))
        pipe.get(self.key("rollout", app, "plan"))
        pipe.hgetall(self.key("rollout", app, "previous"))
        pipe.hgetall(self.key("rollout", app, "progress"))
        record, plan, previous, progress = pipe.execute()
        if record is None or plan is None:
            return None
        return RolloutSnapshot(
            record=json.loads(record),
            plan=json.loads(plan),
            previous={text(c): text(v) for c, v in previous.items()},
            progress={text(c): json.loads(v) for c, v in progress.items()},
        )

    def restore_rollout(
        self, app: str, snapshot: RolloutSnapshot, *, desired: DesiredState | None = None
    ) -> bool:
        """Take a rollout read from a cluster's mirror (and have the beat's controller look at
        it), unless Redis holds a rollout of this life (other than one started after the loss,
        `Rollout.after_loss`), or a later one restored; whether it was taken. With `desired`,
        the application's desired state becomes that too, in the same step (a pinned rollout
        whose state Git has moved on from)."""
        keys = [
            self.key("rollout", app),
            self.key("rollout", app, "plan"),
            self.key("rollout", app, "previous"),
            self.key("rollout", app, "progress"),
            self.key("rollouts"),
            self.key("rollout", app, "restored"),
            self.key("app", app, "desired"),
        ]
        args: list[str] = [
            json.dumps(dict(snapshot.record)),
            json.dumps(dict(snapshot.plan)),
            snapshot.rollout_id,
            str(snapshot.version),
            app,
            repr(self.now()),
            str(len(snapshot.previous)),
            json.dumps(desired.to_json()) if desired is not None else "",
        ]
        for cluster, held in snapshot.previous.items():
            args += [cluster, held]
        for cluster, progress in snapshot.progress.items():
            args += [cluster, json.dumps(dict(progress))]
        return bool(self._r.eval(_RESTORE_ROLLOUT, len(keys), *keys, *args))

    def note_loss(self, apps: Iterable[str]) -> None:
        """Redis lost its data: `apps` (the declared applications) have their first desired
        state of this life rolled out from wave 1 (`rollouts.begin_after_loss`), not sent
        everywhere at once as a first deployment is."""
        names = list(apps)
        if names:
            self._r.sadd(self.key("restoring"), *names)

    def restoring(self, app: str) -> bool:
        """Whether `app` has had no desired state since Redis lost its data (`note_loss`)."""
        return bool(self._r.sismember(self.key("restoring"), app))

    def end_restoring(self, app: str) -> None:
        """`app` has its first desired state since the loss (and its rollout)."""
        self._r.srem(self.key("restoring"), app)

    def note_mirrored(self, app: str, cluster: str, fingerprint: str, *, note: str = "") -> None:
        """The pair's cluster mirror holds `fingerprint` (and could not keep what `note` says)."""
        self._r.hset(self.key("intents_mirrored", cluster), app, mirrored_value(fingerprint, note))

    def forget_mirrored(self, cluster: str) -> None:
        """The cluster lost its mirrors (wiped, or new under an old name): every application's
        next reconcile there reads and writes its mirror again."""
        self._r.delete(self.key("intents_mirrored", cluster))
