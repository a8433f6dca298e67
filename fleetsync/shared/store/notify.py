"""Notifications' state: the last condition told per subject (so a state change makes one
message, not one per check), events waiting for delivery, each notification's rate window and
where the beat's reading of the `changes` feed stands.

Keys: `notify:last` (hash `kind|app|cluster` → token), `notify:event:<id>` (JSON, expires),
`notify:rate:<name>:<minute>` (counter, expires), `notify:position` (a feed id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fleetsync.shared.model.notification import Event
from fleetsync.shared.store.base import StoreBase, text

EVENT_SECONDS = 24 * 3600
"""How long an event waits for its deliveries (their retries end well before)."""

_SWAP = """
local found = {}
for i = 1, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if old ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  found[#found + 1] = old or ''
end
return found
"""


class NotifyStore(StoreBase):
    def swap_conditions(self, tokens: Sequence[tuple[str, str]]) -> list[str | None]:
        """Record each (field, token) as its subject's last condition; what each was before
        (None: never seen), atomically, so two readers never both see the same change."""
        if not tokens:
            return []
        args = [part for pair in tokens for part in pair]
        found = self._r.eval(_SWAP, 1, self.key("notify", "last"), *args)
        return [text(old) or None for old in found]

    def put_event(self, event: Event) -> None:
        body = json.dumps(event.to_json())
        self._r.set(self.key("notify", "event", event.id), body, ex=EVENT_SECONDS)

    def event(self, event_id: str) -> Event | None:
        raw = self._r.get(self.key("notify", "event", event_id))
        return Event.from_json(json.loads(raw)) if raw is not None else None

    def take_send_slot(self, name: str, per_minute: int, now: float) -> float | None:
        """Count a message of notification `name` in the current minute: None when it may go
        now, else the seconds until the next minute starts."""
        minute = int(now // 60)
        key = self.key("notify", "rate", name, str(minute))
        pipe = self._r.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = int(pipe.execute()[0])
        if count <= per_minute:
            return None
        return (minute + 1) * 60 - now

    def notify_position(self) -> str | None:
        raw = self._r.get(self.key("notify", "position"))
        return text(raw) if raw is not None else None

    def set_notify_position(self, position: str) -> None:
        self._r.set(self.key("notify", "position"), position)
