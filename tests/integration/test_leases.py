"""Leases against a real redis-server: nobody waits for one, the holder's keeper renews it while
it works, and it is free again within seconds when the holder's process dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence

import pytest

from fleetsync.shared.store import Store
from fleetsync.shared.store.lease import HOLD_LIMIT, Keeper, LeaseRenewal, Renewal
from tests.support.waiting import wait_for


def _pttl(store: Store, name: str) -> int:
    return int(store.client.pttl(store.key("lock", name)))


def test_a_held_lease_is_refused_at_once_and_free_again_once_released(redis_url: str) -> None:
    store = Store.connect(redis_url)
    with store.lease("pair", ttl=30) as first:
        assert first is not None
        started = time.monotonic()
        with store.lease("pair", ttl=30) as second:
            assert second is None
        assert time.monotonic() - started < 1.0
        assert store.lease_holder("pair")
    assert not store.lease_holder("pair")
    with store.lease("pair", ttl=30) as again:
        assert again is not None


def test_a_lease_is_renewed_while_its_holder_works(redis_url: str) -> None:
    store = Store.connect(redis_url)
    with store.lease("slow", ttl=0.9) as lease:
        assert lease is not None
        taken = time.monotonic()
        wait_for(
            lambda: time.monotonic() - taken > 2.5 and store.lease_holder("slow"),
            timeout=10,
            what="the lease outliving three of its ttls while held",
        )
        assert 0 < _pttl(store, "slow") <= 900
    assert not store.lease_holder("slow")


def test_a_release_never_frees_a_lease_another_holder_took_since(redis_url: str) -> None:
    store = Store.connect(redis_url)
    with store.lease("pair", ttl=30) as mine:
        assert mine is not None
        store.client.delete(store.key("lock", "pair"))  # expired while we were stuck
        theirs = store.acquire_lease("pair", ttl=30)
        assert theirs is not None
        assert not store.renew_lease(mine)
    assert store.lease_holder("pair"), "releasing ours must leave theirs in place"


def test_the_lease_of_a_killed_process_is_free_within_its_ttl(redis_url: str) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, threading
        from fleetsync.shared.store import Store
        store = Store.connect({redis_url!r})
        with store.lease("pair", ttl=1.5) as lease:
            assert lease is not None
            print("held", flush=True)
            threading.Event().wait()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        store = Store.connect(redis_url)
        taken = time.monotonic()
        wait_for(
            lambda: time.monotonic() - taken > 3 and store.lease_holder("pair"),
            timeout=10,
            what="the live holder renewing its lease past its ttl",
        )
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: not store.lease_holder("pair"), timeout=10, what="the lease expiring")
        assert time.monotonic() - killed < 3.0
    finally:
        proc.kill()
        proc.wait()


def test_the_keeper_gives_up_on_a_holder_past_the_hold_limit_and_on_a_lost_lease() -> None:
    keeper = Keeper(interval=3600)
    renewed: list[str] = []

    def renew(name: str, still: bool) -> Renewal:
        return Renewal(name, lambda: renewed.append(name) is None and still)

    stuck = renew("stuck", True)
    stuck.until = time.monotonic() - 1
    lost = renew("lost", False)
    working = renew("working", True)
    for item in (stuck, lost, working):
        keeper.hold(item)
    keeper.renew_now()
    assert sorted(renewed) == ["lost", "working"]
    renewed.clear()
    keeper.renew_now()
    assert renewed == ["working"]
    assert HOLD_LIMIT >= 1800


def _evals(store: Store) -> int:
    stats = store.client.info("commandstats")
    return int(stats.get("cmdstat_eval", {}).get("calls", 0))


def test_a_process_holding_many_leases_renews_them_in_a_few_round_trips(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An apply process converging a thousand clusters holds hundreds of pair leases at once:
    renewed one round trip each, a loaded machine made the renewals outlast the leases."""
    store = Store.connect(redis_url)
    owner = Keeper(interval=3600)  # renewed here, by hand: no other keeper renews these
    leases = [store.acquire_lease(f"pair-{n}", ttl=30) for n in range(1200)]
    for lease in leases:
        assert lease is not None
        owner.hold(store._renewal(lease))
    with store.client.pipeline(transaction=False) as pipe:
        for n in range(1200):
            pipe.pexpire(store.key("lock", f"pair-{n}"), 5000)
        pipe.execute()
    store.client.set(store.key("lock", "pair-7"), "another holder's token", px=5000)
    before = _evals(store)
    with caplog.at_level(logging.ERROR, logger="fleetsync.shared.store.lease"):
        owner.renew_now()
    assert _evals(store) - before == 3  # 1,200 leases, 500 a script call
    ttls = [_pttl(store, f"pair-{n}") for n in range(1200)]
    assert min(ttl for n, ttl in enumerate(ttls) if n != 7) > 25_000
    assert ttls[7] <= 5000, "a lease another holder took is not renewed"
    assert "lease pair-7: lost" in caplog.text
    before = _evals(store)
    owner.renew_now()
    assert _evals(store) - before == 3
    assert "lease pair-7" not in {renewal.what for renewal in owner._items}
    assert len(owner._items) == 1199


def test_a_holder_that_finishes_while_its_renewal_is_on_the_way_has_lost_nothing(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The keeper takes its list of leases, then sends their renewal; a task that ends in
    between drops its leases and releases them (in that order). The renewal then finds them
    gone: that is the holder's own release, not a lease that expired."""
    store = Store.connect(redis_url)
    owner = Keeper(interval=3600)
    leases = [store.acquire_lease(f"pair-{n}", ttl=30) for n in range(10)]
    held = [store._renewal(lease) for lease in leases if lease is not None]
    finishing = held[:5]

    def finish_then_renew(group: Sequence[Renewal]) -> list[bool]:
        for renewal in finishing:  # the holders end while the round trip is on its way
            owner.drop(renewal)
            assert isinstance(renewal, LeaseRenewal) and renewal.lease is not None
            store.end_lease(renewal.lease)
        return store.renew_leases(group)

    for renewal in held:
        renewal.many = finish_then_renew
        owner.hold(renewal)
    store.client.set(store.key("lock", "pair-9"), "another holder's token", px=5000)
    with caplog.at_level(logging.ERROR, logger="fleetsync.shared.store.lease"):
        owner.renew_now()
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert lost == ["lease pair-9: lost (expired before it was renewed)"]
    assert {renewal.what for renewal in owner._items} == {f"lease pair-{n}" for n in (5, 6, 7, 8)}
    assert all(_pttl(store, f"pair-{n}") > 25_000 for n in (5, 6, 7, 8))
