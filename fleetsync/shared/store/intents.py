"""Operators' intents per application (suspension, a rollback pin) and what survives a loss of
Redis's data: the store's life (`epoch`, a random id created by the first reader, so a Redis
that lost everything starts a new one), when operators last changed an application's intents,
and which intents each pair's cluster mirror holds (so a reconcile reads the mirror only when
it may be behind, or when Redis may have lost what it says).

An operator's change (`set_pin`, `set_suspended`) stamps `app:<name>:intents_at`; intents read
back from a cluster's mirror after a loss are stamped `r:<at>` (restored) and give way to a
mirror of later intents, never to an operator's change made since.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from fleetsync.shared.model.desired import Intents, Pin
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


@dataclass(frozen=True, slots=True)
class IntentsView:
    """One read of what a reconcile needs to keep a pair's mirror current."""

    epoch: str
    intents: Intents
    restored: bool
    """The intents came from a cluster's mirror after a loss, not from an operator since."""
    mirrored: str | None
    """The fingerprint the pair's cluster mirror was last written with, in this epoch."""


def intents_view_of(
    epoch: str, *, suspended: bool, pin: Pin | None, stamp: str, mirrored: str | None
) -> IntentsView:
    """The `IntentsView` of what was read: `stamp` is `app:<name>:intents_at` ("" if absent)."""
    return IntentsView(
        epoch=epoch,
        intents=Intents(suspended=suspended, pin=pin, at=float(stamp.removeprefix("r:") or 0.0)),
        restored=stamp.startswith("r:"),
        mirrored=mirrored,
    )


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
        _, epoch_raw, suspended, pin, at, mirrored = pipe.execute()
        epoch = text(epoch_raw or b"")
        return intents_view_of(
            epoch,
            suspended=suspended is not None,
            pin=Pin.from_json(json.loads(pin)) if pin is not None else None,
            stamp=text(at) if at is not None else "",
            mirrored=text(mirrored) if mirrored is not None else None,
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

    def note_mirrored(self, app: str, cluster: str, fingerprint: str) -> None:
        self._r.hset(self.key("intents_mirrored", cluster), app, fingerprint)

    def forget_mirrored(self, cluster: str) -> None:
        """The cluster lost its mirrors (wiped, or new under an old name): every application's
        next reconcile there reads and writes its mirror again."""
        self._r.delete(self.key("intents_mirrored", cluster))
