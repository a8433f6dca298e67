"""The one backoff formula: doubling from the first delay, capped, never under a delay the
failure asked for, spread by ±20%."""

from __future__ import annotations

import pytest

from fleetsync.shared.model.backoff import backoff_delay


def _exact(low: float, high: float) -> float:
    return (low + high) / 2


def test_the_delay_doubles_with_each_failure_up_to_the_cap() -> None:
    delays = [backoff_delay(n, first=60.0, cap=300.0, spread=_exact) for n in range(1, 7)]
    assert delays == [60.0, 120.0, 240.0, 300.0, 300.0, 300.0]
    assert backoff_delay(0, first=2.0, cap=300.0, spread=_exact) == 2.0


def test_a_delay_the_failure_asked_for_is_never_undercut() -> None:
    assert backoff_delay(1, first=2.0, cap=300.0, floor=30.0, spread=_exact) == 30.0
    assert backoff_delay(6, first=2.0, cap=300.0, floor=30.0, spread=_exact) == 64.0


@pytest.mark.parametrize("failures", [1, 3, 12])
def test_the_spread_is_twenty_percent_either_way(failures: int) -> None:
    base = backoff_delay(failures, first=10.0, cap=100.0, spread=_exact)
    low = backoff_delay(failures, first=10.0, cap=100.0, spread=lambda lo, hi: lo)
    high = backoff_delay(failures, first=10.0, cap=100.0, spread=lambda lo, hi: hi)
    assert (low, high) == pytest.approx((base * 0.8, base * 1.2))
