"""Leases: locks that outlive neither their holder nor its process.

A lease is a Redis key holding its owner's random token with a short expiry (`LEASE_SECONDS`).
While the holder works, the process's keeper thread renews it every third of that; when the
holder ends it releases the lease, and when its process dies (kill -9, a lost host) the renewals
stop and the lease expires within seconds. Nobody waits for a lease: `lease` yields None when
another holds it, and the caller does something else (a reconcile re-enqueues itself with a
short countdown). A lease is renewed for at most `HOLD_LIMIT` (the tasks' hard time limit): a
holder stuck past that is given up on rather than blocking its pair for good.

In-flight records use the same keeper: every running task has one (`InflightStore`), renewed
while it runs, so a task whose worker died is found by its record's lapse and enqueued again by
the beat.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis.exceptions

from fleetsync.shared.store.base import StoreBase

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0
"""How long a lease outlives the last renewal of its holder (a dead holder's lease is free
again after at most this long)."""
HOLD_LIMIT = 1800.0
"""The longest a holder keeps renewing (the tasks' hard time limit)."""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_HOLD = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RENEW_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i - 1] then
    out[i] = redis.call('PEXPIRE', key, ARGV[2 * i])
  else
    out[i] = 0
  end
end
return out
"""
_RENEW_CHUNK = 500
"""Leases renewed by one script call at most (a process with more sends several)."""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    token: str
    ttl: float


@dataclass(eq=False)
class Renewal:
    """Something the keeper renews until it is dropped: `renew` says whether it still holds."""

    what: str
    renew: Callable[[], bool]
    until: float = field(default_factory=lambda: time.monotonic() + HOLD_LIMIT)
    many: Callable[[Sequence[Renewal]], list[bool]] | None = None
    """Renews this one with the others of its `group` in one round trip (the leases of one
    store): a process holding hundreds of leases renews them all in a few commands, not one
    round trip each, which under load could outlast the leases' expiry."""
    group: int = 0


@dataclass(eq=False)
class LeaseRenewal(Renewal):
    lease: Lease | None = None


class Keeper:
    """The process's renewal thread: renews every registered lease and in-flight record every
    `interval` seconds. Started on first use in each process (a forked child starts its own:
    threads do not survive fork)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._items: set[Renewal] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0

    def hold(self, item: Renewal) -> None:
        with self._lock:
            self._items.add(item)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="fleetsync-keeper", daemon=True).start()

    def drop(self, item: Renewal) -> None:
        with self._lock:
            self._items.discard(item)

    def renew_now(self) -> None:
        """Renew everything held once, now (the thread does this every interval)."""
        with self._lock:
            items = list(self._items)
        now = time.monotonic()
        groups: dict[int, list[Renewal]] = {}
        for item in items:
            if now > item.until:
                log.error("%s: held past the %.0fs limit; no longer renewed", item.what, HOLD_LIMIT)
                self.drop(item)
            elif item.many is not None:
                groups.setdefault(item.group, []).append(item)
            else:
                try:
                    still = item.renew()
                except redis.exceptions.RedisError as exc:
                    log.warning("%s: renewal failed (%s); retrying", item.what, exc)
                    continue
                self._settle(item, still)
        for group in groups.values():
            many = group[0].many
            assert many is not None
            try:
                held = many(group)
            except redis.exceptions.RedisError as exc:
                log.warning("%d leases: renewal failed (%s); retrying", len(group), exc)
                continue
            for item, still in zip(group, held, strict=True):
                self._settle(item, still)

    def _settle(self, item: Renewal, still: bool) -> None:
        if still:
            return
        with self._lock:
            if item not in self._items:
                # Its holder finished while the renewal was on its way, and released it (every
                # holder drops its renewal before it releases): not a loss.
                return
            self._items.discard(item)
        log.error("%s: lost (expired before it was renewed)", item.what)

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            self._wake.wait(self._interval)
            self.renew_now()


_keepers: dict[float, Keeper] = {}
_keepers_lock = threading.Lock()


def keeper(ttl: float) -> Keeper:
    """The keeper for leases of `ttl` seconds (renewing every third of it)."""
    with _keepers_lock:
        found = _keepers.get(ttl)
        if found is None:
            found = _keepers[ttl] = Keeper(interval=ttl / 3)
        return found


class LeaseStore(StoreBase):
    lease_seconds: float = LEASE_SECONDS

    def acquire_lease(self, name: str, *, ttl: float | None = None) -> Lease | None:
        """Take the lease `name` if it is free (no wait); None while another holds it."""
        seconds = ttl or self.lease_seconds
        token = secrets.token_hex(8)
        taken = self._r.set(self._lease_key(name), token, nx=True, px=int(seconds * 1000))
        return Lease(name=name, token=token, ttl=seconds) if taken else None

    def renew_lease(self, lease: Lease) -> bool:
        """Push the lease's expiry out by its ttl; False when it is no longer this holder's."""
        key = self._lease_key(lease.name)
        return bool(self._r.eval(_RENEW, 1, key, lease.token, int(lease.ttl * 1000)))

    def renew_leases(self, renewals: Sequence[Renewal]) -> list[bool]:
        """`renew_lease` for many leases in one round trip per `_RENEW_CHUNK` of them; each
        `renewals` item is a `LeaseRenewal` of this store."""
        held: list[bool] = []
        for start in range(0, len(renewals), _RENEW_CHUNK):
            keys: list[str] = []
            argv: list[str | int] = []
            for item in renewals[start : start + _RENEW_CHUNK]:
                assert isinstance(item, LeaseRenewal) and item.lease is not None
                keys.append(self._lease_key(item.lease.name))
                argv += [item.lease.token, int(item.lease.ttl * 1000)]
            answers = self._r.eval(_RENEW_MANY, len(keys), *keys, *argv)
            held += [bool(answer) for answer in answers]
        return held

    def _renewal(self, lease: Lease) -> LeaseRenewal:
        return LeaseRenewal(
            f"lease {lease.name}",
            lambda: self.renew_lease(lease),
            many=self.renew_leases,
            group=id(self),
            lease=lease,
        )

    def end_lease(self, lease: Lease) -> None:
        """Free the lease, if it is still this holder's."""
        self._r.eval(RELEASE, 1, self._lease_key(lease.name), lease.token)

    def hold_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the named lease for a long-lived `holder` that renews it itself (the
        one active beat, every tick); False while another holds it."""
        key = self.key("lease", name)
        return bool(self._r.eval(_HOLD, 1, key, holder, int(ttl * 1000)))

    def give_up_lease(self, name: str, holder: str) -> bool:
        """Give up the named lease `holder` holds (a beat that stops), so that a successor need
        not wait for it to expire; False if someone else holds it."""
        return bool(self._r.eval(RELEASE, 1, self.key("lease", name), holder))

    def lease_holder(self, name: str) -> bool:
        """Whether anyone holds the lease `name` now."""
        return bool(self._r.exists(self._lease_key(name)))

    @contextmanager
    def lease(self, name: str, *, ttl: float | None = None) -> Iterator[Lease | None]:
        """Hold the lease `name` for the block, renewed while the block runs; yields None
        (at once, no wait) when another holds it."""
        taken = self.acquire_lease(name, ttl=ttl)
        if taken is None:
            yield None
            return
        held = taken
        renewal = self._renewal(held)
        owner = keeper(held.ttl)
        owner.hold(renewal)
        try:
            yield held
        finally:
            owner.drop(renewal)
            try:
                self.end_lease(held)
            except redis.exceptions.RedisError as exc:
                log.warning("lease %s: not released (%s); it expires in %.0fs", name, exc, held.ttl)

    @contextmanager
    def holding(self, lease: Lease) -> Iterator[Lease]:
        """Keep a lease taken elsewhere (in a task's opening round) renewed for the block. The
        block's end does not release it (the caller releases it with its last writes, see
        `PairView.release`); an exception does, at once."""
        renewal = self._renewal(lease)
        owner = keeper(lease.ttl)
        owner.hold(renewal)
        try:
            yield lease
        except BaseException:
            owner.drop(renewal)
            try:
                self.end_lease(lease)
            except redis.exceptions.RedisError as exc:
                log.warning("lease %s: not released (%s); it expires soon", lease.name, exc)
            raise
        owner.drop(renewal)

    @contextmanager
    def try_lock(self, name: str, *, ttl: float | None = None) -> Iterator[bool]:
        """`lease` for callers that only need to know whether they hold it."""
        with self.lease(name, ttl=ttl) as held:
            yield held is not None

    def _lease_key(self, name: str) -> str:
        return self.key("lock", name)
