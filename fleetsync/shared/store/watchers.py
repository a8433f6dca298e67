"""Watcher processes: who watches which cluster, balanced through Redis, and what each saw.

Each watcher process beats every few seconds (`balance_watchers`): one Lua script that renews the
process's entry in `watchers` (a sorted set: process id -> when it is dead unless it beats
again), drops the dead, and deals the fleet's clusters out (`watch:owners`, a hash cluster ->
process id): each live process keeps the clusters it owns up to its share (clusters / live
processes, the remainder going one each to the first processes by id), gives back its surplus,
and takes clusters nobody live owns, up to its share. So a new process gets its share within two
beats of everyone, and a dead one's clusters are taken over once its entry lapsed. Idle, a beat
writes one sorted-set score per process.

`watch:state` (hash cluster -> JSON) holds what the owner of each cluster says about its watches
("watching", or "interval" with the reason: watches refused or failing), written only when it
changes. A reader trusts a state only while its writer still owns the cluster and is alive
(`drift_detection`): otherwise nobody watches it and interval checks alone serve it. A cluster
declared `watch: false` is dealt to no watcher: `drift_detection` says so from the fleet's
word (WATCH_OFF).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.model.inventory import Inventory
from fleetsync.shared.store.base import StoreBase, text

_BALANCE = """
local owners, watchers = KEYS[1], KEYS[2]
local me, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', watchers, now + ttl, me)
redis.call('ZREMRANGEBYSCORE', watchers, '-inf', now)
local live = redis.call('ZCARD', watchers)
local declared = {}
local mine, free = {}, {}
local alive = {}
local owner_of = {}
local all = redis.call('HGETALL', owners)
for i = 1, #all, 2 do owner_of[all[i]] = all[i + 1] end
for i = 3, #ARGV do
  local c = ARGV[i]
  declared[c] = true
  local owner = owner_of[c]
  if owner == me then
    table.insert(mine, c)
  elseif not owner then
    table.insert(free, c)
  else
    if alive[owner] == nil then
      alive[owner] = redis.call('ZSCORE', watchers, owner) ~= false
    end
    if not alive[owner] then table.insert(free, c) end
  end
end
for c, _ in pairs(owner_of) do
  if not declared[c] then
    redis.call('HDEL', owners, c)
    redis.call('HDEL', KEYS[3], c)
  end
end
local members = redis.call('ZRANGE', watchers, 0, -1)
table.sort(members)
local rank = 0
for r, m in ipairs(members) do if m == me then rank = r - 1 end end
local n = #ARGV - 2
local share = math.floor(n / live)
if rank < n % live then share = share + 1 end
while #mine > share do
  redis.call('HDEL', owners, table.remove(mine))
end
local i = 1
while #mine < share and i <= #free do
  redis.call('HSET', owners, free[i], me)
  table.insert(mine, free[i])
  i = i + 1
end
return mine
"""

_LEAVE = """
redis.call('ZREM', KEYS[2], ARGV[1])
for _, c in ipairs(redis.call('HKEYS', KEYS[1])) do
  if redis.call('HGET', KEYS[1], c) == ARGV[1] then redis.call('HDEL', KEYS[1], c) end
end
return 1
"""


_OWNED_STATE = """
local state = redis.call('HGET', KEYS[1], ARGV[1])
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if not state or not owner then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive_until = redis.call('ZSCORE', KEYS[3], owner)
if not alive_until or tonumber(alive_until) < now then return false end
return {state, owner}
"""
"""A cluster's `watch:state` and its writer, if a live watcher owns the cluster; else nil."""


@dataclass(frozen=True, slots=True)
class DriftDetection:
    """How drift is detected on one cluster, as its watcher reported it."""

    mode: str
    """"watching", or "interval" (interval checks alone)"""
    reason: str = ""
    watcher: str = ""
    uncovered: tuple[str, ...] = ()
    """Applications on a watched cluster whose inventory holds a kind the watcher cannot watch
    there (the cluster does not serve it, or its discovery failed): interval checks alone
    serve them."""

    def to_json(self) -> str:
        data: dict[str, object] = {"mode": self.mode, "reason": self.reason}
        data["watcher"] = self.watcher
        if self.uncovered:
            data["uncovered"] = list(self.uncovered)
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> DriftDetection:
        data = json.loads(raw)
        return cls(
            mode=str(data.get("mode", "")),
            reason=str(data.get("reason", "")),
            watcher=str(data.get("watcher", "")),
            uncovered=tuple(str(a) for a in data.get("uncovered") or ()),
        )

    def covers(self, app: str) -> bool:
        """Whether live watches cover the drift of `app` on this cluster: every kind of its
        inventory is watched, and the watches are open."""
        return self.mode == "watching" and app not in self.uncovered

    def describe(self) -> str:
        if self.mode == "watching":
            if self.uncovered:
                return f"watching, but not every kind of {', '.join(self.uncovered)}"
            return "watching"
        return f"interval checks only: {self.reason}" if self.reason else "interval checks only"

    def describe_pair(self, app: str, every: str) -> str:
        """How drift is detected on `app`'s pair here; `every`: the interval of its checks as
        written for people (`SyncPolicy.drift_every` of `covers(app)`)."""
        if self.covers(app):
            return f"watching (backstop check every {every})"
        if self.mode == "watching":
            why = "a kind of its inventory is not watched here"
            return f"interval checks only (every {every}): {why}"
        reason = f": {self.reason}" if self.reason else ""
        return f"interval checks only (every {every}){reason}"


NO_WATCHER = DriftDetection(mode="interval", reason="no watcher process holds this cluster")
WATCH_OFF = DriftDetection(mode="interval", reason="watch: false in fleet.yaml")
"""A cluster the fleet declares unwatched: no watcher process takes it."""


class WatcherStore(StoreBase):
    def balance_watchers(self, me: str, clusters: Sequence[str], *, ttl: float) -> list[str]:
        """Beat as watcher `me` (alive for `ttl` seconds more) and return the clusters it owns
        now, out of `clusters` (the fleet's)."""
        owned = self._r.eval(
            _BALANCE,
            3,
            self.key("watch", "owners"),
            self.key("watchers"),
            self.key("watch", "state"),
            me,
            int(ttl * 1000),
            *clusters,
        )
        return sorted(text(c) for c in owned or ())

    def leave_watchers(self, me: str) -> None:
        """Give up every cluster `me` owns and its place (a watcher that stops)."""
        self._r.eval(_LEAVE, 2, self.key("watch", "owners"), self.key("watchers"), me)

    def live_watchers(self) -> list[str]:
        now_ms = self.now() * 1000
        members = self._r.zrangebyscore(self.key("watchers"), now_ms, "+inf")
        return sorted(text(m) for m in members)  # type: ignore[arg-type]

    def watch_owners(self) -> dict[str, str]:
        return {text(k): text(v) for k, v in self._r.hgetall(self.key("watch", "owners")).items()}

    def set_drift_detection(self, cluster: str, state: DriftDetection) -> None:
        self._r.hset(self.key("watch", "state"), cluster, state.to_json())

    def drift_detection(
        self, clusters: Iterable[str], *, unwatched: Collection[str] = ()
    ) -> dict[str, DriftDetection]:
        """How drift is detected on each cluster: WATCH_OFF for those in `unwatched` (declared
        `watch: false`), otherwise from its live owner's word (NO_WATCHER when no live watcher
        owns it)."""
        every = list(clusters)
        found: dict[str, DriftDetection] = {c: WATCH_OFF for c in every if c in unwatched}
        names = [c for c in every if c not in found]
        if not names:
            return found
        pipe = self._r.pipeline(transaction=False)
        pipe.hmget(self.key("watch", "state"), names)
        pipe.hmget(self.key("watch", "owners"), names)
        pipe.zrangebyscore(self.key("watchers"), self.now() * 1000, "+inf")
        states, owners, live_raw = pipe.execute()
        live = {text(m) for m in live_raw}
        for name, raw, owner in zip(names, states, owners, strict=True):
            state = DriftDetection.from_json(text(raw)) if raw is not None else None
            owner_id = text(owner) if owner is not None else ""
            if state is None or owner_id not in live or state.watcher != owner_id:
                found[name] = NO_WATCHER
            else:
                found[name] = state
        return {c: found[c] for c in every}

    def queue_watch_covers(self, p: Any, cluster: str) -> None:
        """Queue on pipeline `p` the read that `covered_by_watch` reads the reply of."""
        queue_owned_state(self, p, cluster)

    def watch_covers(self, app: str, cluster: str) -> bool:
        """Whether live watches cover the drift of `app` on `cluster` now (see
        `DriftDetection.covers`): its interval checks are then a backstop."""
        p = self._r.pipeline(transaction=False)
        self.queue_watch_covers(p, cluster)
        return covered_by_watch(p.execute()[0], app)

    def inventories(self, pairs: Sequence[tuple[str, str]]) -> list[Inventory | None]:
        """The Redis inventory of each (application, cluster) pair, in one round trip."""
        if not pairs:
            return []
        raws = self._r.mget([self.key("pair", a, c, "inventory") for a, c in pairs])
        return [Inventory.from_mapping(json.loads(r)) if r is not None else None for r in raws]


def queue_owned_state(store: StoreBase, p: Any, cluster: str) -> None:
    """Queue on pipeline `p` the read of `cluster`'s drift detection as its live owner wrote
    it, the reply `covered_by_watch` reads."""
    keys = (store.key("watch", "state"), store.key("watch", "owners"), store.key("watchers"))
    p.eval(_OWNED_STATE, 3, *keys, cluster)


def covered_by_watch(reply: Any, app: str) -> bool:
    """`DriftDetection.covers(app)` of the reply of `queue_watch_covers` (no live owner, or a
    state another process wrote: not covered)."""
    if not reply:
        return False
    state, owner = (text(r) for r in reply)
    detection = DriftDetection.from_json(state)
    return detection.watcher == owner and detection.covers(app)
