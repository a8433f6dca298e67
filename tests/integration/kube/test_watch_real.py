"""Watches against a real API server only: its bookmarks, resumption from them, and its 410
once its watch cache no longer reaches back to a revision (kubesim's compaction is tested in
test_watch_live.py).

What a real server (1.25) does, learnt here: it sends a watch allowing bookmarks one 2 s before
the watch's timeout and one a minute, carrying the newest revision its cache saw of the kind, but
only when that revision is newer than the watch's start (an idle kind's watch gets none, and its
revision stays valid: the cache drops events only when full).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from fleetsync.shared.kube.client import ApiResource, WatchStream
from fleetsync.shared.kube.watch import MARKS, SELECTOR, KindWatch, WatchTimings
from fleetsync.shared.planning.watch_events import Action, decide
from tests.integration.kube.conftest import Live, real_only
from tests.integration.kube.manifests import namespace, sync, widget, widget_crd, widget_path
from tests.integration.kube.test_watch_live import CONFIGMAPS, Heard, applied
from tests.support.waiting import wait_for

WATCH_CACHE_FRESHNESS = 80.0
"""kube-apiserver keeps every event in its watch cache for 75 s at least (growing the cache
rather than dropping a fresher event): a revision expires only once that long has passed."""


class Recorded:
    """The watches a client opened (their resourceVersion) and what each one delivered: a spy
    on the real client, whose requests still go to the server."""

    def __init__(self, live: Live) -> None:
        self.opened: list[str] = []
        self.events: list[list[tuple[str, str]]] = []
        real = live.client.watch

        def watch(resource: ApiResource, **kw: Any) -> Any:
            self.opened.append(kw["resource_version"])
            seen: list[tuple[str, str]] = []
            self.events.append(seen)
            return _Spy(real(resource, **kw), seen)

        live.client.watch = watch  # type: ignore[method-assign]


class _Spy:
    def __init__(self, stream: WatchStream, seen: list[tuple[str, str]]) -> None:
        self._stream = stream
        self._seen = seen

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self._stream:
            rv = str(((event.get("object") or {}).get("metadata") or {}).get("resourceVersion"))
            self._seen.append((str(event.get("type")), rv))
            yield event

    def close(self) -> None:
        self._stream.close()


@real_only
def test_a_watch_resumes_from_the_bookmark_a_real_server_sends_before_it_ends(live: Live) -> None:
    applied(live)
    recorded = Recorded(live)
    heard = Heard()
    timings = WatchTimings(timeout=(12, 12), first_retry=0.1, max_retry=0.5, quick_close=0.0)
    watch = KindWatch(live.client, CONFIGMAPS, heard, timings=timings)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: recorded.opened, what="a first watch")
        # A real server's bookmark carries the newest revision its cache saw of the kind, and is
        # sent only when that is newer than the watch's start: a write the selector leaves out.
        live.operator.create(
            f"/api/v1/namespaces/{live.ns}/configmaps",
            {"metadata": {"name": "unwatched"}, "data": {"a": "b"}},
        )
        wait_for(lambda: len(recorded.opened) >= 2, timeout=30, what="a second watch")
    finally:
        watch.stop()
        thread.join(timeout=10)
    first = recorded.events[0]
    bookmarks = [rv for kind, rv in first if kind == "BOOKMARK"]
    assert bookmarks, f"no bookmark from the real server in {first}"
    # The next watch starts where the first one ended: its last event, a bookmark here.
    assert first[-1][0] == "BOOKMARK"
    assert recorded.opened[1] == first[-1][1]
    assert heard.check_alls == []


@real_only
def test_a_real_server_answers_410_once_a_revision_left_its_watch_cache(live: Live) -> None:
    sync(live, [widget_crd(live.group), namespace(live.ns), widget("w", live.ns, live.group)])
    resource = live.client.resolve(f"{live.group}/v1", "Widget")
    revision = live.client.list_revision(resource, label_selector=SELECTOR)
    time.sleep(WATCH_CACHE_FRESHNESS)  # the server's own rule, not a wait for something to happen
    path = widget_path(live.ns, live.group, "w")
    for i in range(250):  # more than a new kind's watch cache holds (100)
        live.operator.merge_patch(path, {"spec": {"n": i}})
    stream = live.client.watch(
        resource, resource_version=revision, label_selector=SELECTOR, timeout_seconds=5
    )
    first = next(iter(stream))
    stream.close()
    decision = decide(first, MARKS)
    assert decision.action is Action.RELIST, first
    assert "too old resource version" in decision.why
