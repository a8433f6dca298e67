"""Coalescing: a burst at once, a flood folded into one per gap, other keys unaffected."""

from __future__ import annotations

import pytest

from fleetsync.shared.planning.coalescing import Coalescer


def test_the_first_trigger_goes_at_once_and_a_flood_becomes_one_per_gap() -> None:
    c: Coalescer[str] = Coalescer(gap=5.0, burst=1)
    assert c.offer("noisy", 0.0)
    sent_now = [c.offer("noisy", t / 10) for t in range(1, 50)]
    assert not any(sent_now)
    assert c.due(4.9) == []
    assert c.next_due() == 5.0
    assert c.due(5.0) == ["noisy"]
    assert c.due(100.0) == []


def test_a_burst_goes_at_once_then_one_per_gap() -> None:
    c: Coalescer[str] = Coalescer(gap=5.0, burst=3)
    # An edit, then a delete a second later: both checked at once.
    assert [c.offer("k", t) for t in (0.0, 1.0, 1.5)] == [True, True, True]
    assert not c.offer("k", 2.0)
    assert not c.offer("k", 2.5)
    due_at = c.next_due()
    assert due_at is not None and 4.9 < due_at < 5.1
    assert c.due(due_at) == ["k"]
    flood = [c.offer("k", due_at + t / 10) for t in range(1, 100)]
    assert sum(flood) == 0  # folded into the next trailing trigger, one gap later
    assert c.due(due_at + 4.9) == []
    assert c.due(due_at + 5.1) == ["k"]


def test_a_noisy_key_never_delays_a_quiet_one() -> None:
    c: Coalescer[str] = Coalescer(gap=5.0)
    for t in range(30):
        c.offer("noisy", t / 10)
    assert c.offer("quiet", 2.0)
    assert c.offer("other", 2.5)


def test_a_trigger_after_the_gap_goes_at_once_again() -> None:
    c: Coalescer[str] = Coalescer(gap=5.0, burst=1)
    assert c.offer("k", 0.0)
    assert c.offer("k", 5.0)
    assert not c.offer("k", 6.0)
    assert c.due(10.0) == ["k"]
    assert not c.offer("k", 11.0)
    assert c.due(15.0) == ["k"]


def test_trailing_triggers_come_out_in_the_order_they_fell_due() -> None:
    c: Coalescer[str] = Coalescer(gap=5.0, burst=1)
    c.offer("a", 0.0)
    c.offer("b", 1.0)
    c.offer("b", 1.5)
    c.offer("a", 2.0)
    assert c.due(10.0) == ["a", "b"]


def test_memory_is_only_the_keys_whose_bucket_is_not_full() -> None:
    c: Coalescer[int] = Coalescer(gap=1.0, burst=2)
    for i in range(1000):
        c.offer(i, 0.0)
    assert len(c) == 1000
    c.due(1.0)
    assert len(c) == 0
    with pytest.raises(ValueError, match="gap"):
        Coalescer(gap=-1)
    with pytest.raises(ValueError, match="burst"):
        Coalescer(gap=1, burst=0)
