"""CheckDispatcher: a check asked for `anew` (a cluster newly watched) is sent as such, whatever
the coalescing did with it; the other checks are sent plainly."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fleetsync.scheduler.watcher import CheckDispatcher
from tests.support.waiting import wait_for


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, app: str, cluster: str, anew: bool) -> None:
        with self.lock:
            self.calls.append((app, cluster, anew))


@pytest.fixture
def sent() -> Iterator[tuple[CheckDispatcher, Sent]]:
    calls = Sent()
    dispatcher = CheckDispatcher(calls, gap=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    yield dispatcher, calls
    stop.set()
    dispatcher.wake()
    thread.join(timeout=5)


def test_a_check_asked_anew_is_sent_anew_and_the_next_one_plainly(
    sent: tuple[CheckDispatcher, Sent],
) -> None:
    dispatcher, calls = sent
    dispatcher.offer("web", "c1", anew=True)
    dispatcher.offer("api", "c1")
    wait_for(lambda: len(calls.calls) == 2, what="both checks sent")
    assert sorted(calls.calls) == [("api", "c1", False), ("web", "c1", True)]
    dispatcher.offer("web", "c1")
    wait_for(lambda: len(calls.calls) == 3, what="the next check sent")
    assert calls.calls[2] == ("web", "c1", False)


def test_a_check_asked_anew_while_coalesced_goes_anew_with_the_trailing_one(
    sent: tuple[CheckDispatcher, Sent],
) -> None:
    dispatcher, calls = sent
    for _ in range(3):  # the burst: sent at once
        dispatcher.offer("web", "c1")
    wait_for(lambda: len(calls.calls) == 3, what="the burst sent")
    dispatcher.offer("web", "c1", anew=True)  # folded into the trailing check
    wait_for(lambda: len(calls.calls) == 4, what="the trailing check sent")
    assert [anew for _, _, anew in calls.calls] == [False, False, False, True]
