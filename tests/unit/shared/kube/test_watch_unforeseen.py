"""A watch loop that meets an error nobody foresaw reports it and tries again: its thread never
dies silently. (A stub client: a bug in the client cannot be produced against a real server.)"""

from __future__ import annotations

import threading
from typing import Any

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.watch import KindWatch, WatchState, WatchTimings
from tests.support.waiting import wait_for

CONFIGMAPS = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)


class Broken:
    name = "c1"

    def __init__(self) -> None:
        self.calls = 0

    def list_revision(self, resource: ApiResource, **_: Any) -> str:
        self.calls += 1
        raise KeyError("resourceVersion")


class Heard:
    def check(self, app: str, why: str) -> None: ...
    def check_all(self, kind: str, why: str) -> None: ...
    def changed(self) -> None: ...


def test_an_unforeseen_error_is_a_failing_state_and_is_tried_again() -> None:
    client = Broken()
    watch = KindWatch(
        client,
        CONFIGMAPS,
        Heard(),  # type: ignore[arg-type]
        timings=WatchTimings(first_retry=0.01, max_retry=0.02),
    )
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: client.calls >= 3, what="tried again")
        assert watch.state is WatchState.FAILING
        assert watch.reason == "KeyError: 'resourceVersion'"
        assert thread.is_alive()
    finally:
        watch.stop()
        thread.join(timeout=5)
