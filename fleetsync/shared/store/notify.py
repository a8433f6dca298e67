"""Notifications' state: the last condition told per subject (so a state change makes one
message, not one per check), events waiting for delivery, each notification's rate window and
where the beat's reading of the `changes` feed stands.

Keys: `notify:last` (hash `kind|app|cluster` → token, only for subjects not resolved),
`notify:event:<id>` (JSON, expires), `notify:rate:<name>:<minute>` (counter, expires),
`notify:position` (a feed id), `notify:scan` (how far a look at every pair has gone).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fleetsync.shared.model.notification import Event
from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.source import SourceError

EVENT_SECONDS = 24 * 3600
"""How long an event waits for its deliveries (their retries end well before)."""

_SWAP = """
local found = {}
for i = 1, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if ARGV[i + 1] == 'resolved' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  elseif old ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  found[#found + 1] = old or ''
end
return found
"""


class NotifyStore(StoreBase):
    def last_conditions(self) -> dict[str, str]:
        """Every subject's last condition that is not resolved (a resolved one is dropped)."""
        return {text(k): text(v) for k, v in self._r.hgetall(self.key("notify", "last")).items()}

    def swap_conditions(self, tokens: Sequence[tuple[str, str]]) -> list[str | None]:
        """Record each (field, token) as its subject's last condition (`resolved` by dropping
        it); what each was before (None: never seen or resolved), atomically, so two readers
        never both see the same change."""
        if not tokens:
            return []
        args = [part for pair in tokens for part in pair]
        found = self._r.eval(_SWAP, 1, self.key("notify", "last"), *args)
        return [text(old) or None for old in found]

    def source_errors(self, apps: Sequence[str]) -> dict[str, SourceError | None]:
        """The source error of many applications in one round trip."""
        if not apps:
            return {}
        raws = self._r.mget([self.key("app", app, "source_error") for app in apps])
        return {
            app: SourceError(**json.loads(raw)) if raw is not None else None
            for app, raw in zip(apps, raws, strict=True)
        }

    def put_event(self, event: Event) -> None:
        self.put_events([event])

    def put_events(self, events: Sequence[Event]) -> None:
        """Keep events for their deliveries (one round trip), and count them."""
        if not events:
            return
        pipe = self._r.pipeline(transaction=False)
        for event in events:
            body = json.dumps(event.to_json())
            pipe.set(self.key("notify", "event", event.id), body, ex=EVENT_SECONDS)
        pipe.hincrby(self.key("stats"), "notify_events", len(events))
        pipe.execute()

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

    def notify_scan(self) -> int | None:
        """How far a look at every pair of the fleet has gone (None: none under way)."""
        raw = self._r.get(self.key("notify", "scan"))
        return int(raw) if raw is not None else None

    def set_notify_scan(self, done: int | None) -> None:
        if done is None:
            self._r.delete(self.key("notify", "scan"))
        else:
            self._r.set(self.key("notify", "scan"), str(done))
