"""Waiting for an eventually true condition, with a deadline and a clear failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Call `condition` until it returns something truthy; return that, or fail after
    `timeout` seconds naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or condition}: last value {last!r}"
            )
        time.sleep(interval)
        last = condition()
    return last
