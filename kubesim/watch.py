"""Watch: a chunked stream of ADDED/MODIFIED/DELETED events from a resourceVersion.

Without a resourceVersion (or with "0") the stream starts with a synthetic ADDED per existing
object; with one, it replays the cluster's event log after it, or reports 410 Expired when the
log no longer reaches back that far. A watch with a selector sees an object that comes to match
it as ADDED and one that stops matching as DELETED. `sendInitialEvents=true` ends the initial
events with the BOOKMARK that watch-list clients wait for. The stream ends after
`timeoutSeconds`. With `allowWatchBookmarks=true`, a BOOKMARK carrying the cluster's current
resourceVersion comes every `BOOKMARK_SECONDS` of the watch and just before it times out, as a
real API server sends them, so that a client resumes from a recent revision.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from kubesim.cluster import Cluster
from kubesim.errors import ApiError, Reason
from kubesim.flags import query_flag
from kubesim.httpserver import Outcome, Stream
from kubesim.selectors import field_matcher, label_matcher
from kubesim.store import EventType, StoreEvent
from kubesim.verbs import Target, view

DEFAULT_TIMEOUT = 1800.0
BOOKMARK_SECONDS = 60.0


def _line(event_type: str, obj: Mapping[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + (b"\n")


def _expired(requested: int, oldest: int) -> bytes:
    err = ApiError(410, Reason.EXPIRED, f"too old resource version: {requested} ({oldest})")
    return _line("ERROR", err.status())


async def watch_response(cluster: Cluster, t: Target, query: Mapping[str, str]) -> Outcome:
    """Open a watch on `t` (all namespaces when `t.namespace` is None)."""
    labels = label_matcher(query.get("labelSelector"))
    fields = field_matcher(query.get("fieldSelector"))
    timeout = float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    rv_param = query.get("resourceVersion", "")
    send_initial = query_flag(query, "sendInitialEvents")
    namespace = t.namespace if t.rtype.namespaced else None

    def matches(key: tuple[str, str], ns: str, obj: Mapping[str, Any]) -> bool:
        return (
            key == t.key
            and (not namespace or ns == namespace)
            and (labels is None or labels(obj))
            and (fields is None or fields(obj))
        )

    def seen_as(event: StoreEvent) -> str | None:
        """The event this watch reports: an object entering the selector is ADDED to it,
        one leaving it DELETED from it, as it last matched (None: not this watch's business)."""
        now = matches(event.type_key, event.namespace, event.object)
        if event.type is not EventType.MODIFIED or event.previous is None:
            return str(event.type) if now else None
        before = matches(event.type_key, event.namespace, event.previous)
        if now:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None

    def shown(kind: str, event: StoreEvent) -> dict[str, Any]:
        leaving = kind == "DELETED" and event.type is EventType.MODIFIED and event.previous
        return view(
            event.previous if leaving else event.object,  # type: ignore[arg-type]
            t.rtype,
            t.version,
        )

    queue: asyncio.Queue[tuple[str, StoreEvent]] = asyncio.Queue()

    def listener(event: StoreEvent) -> None:
        kind = seen_as(event)
        if kind is not None:
            queue.put_nowait((kind, event))

    initial: list[bytes] = []
    if rv_param in ("", "0") or send_initial:
        for obj in cluster.store.list(t.key, namespace):
            if matches(t.key, obj["metadata"].get("namespace", ""), obj):
                initial.append(_line("ADDED", view(obj, t.rtype, t.version)))
        if send_initial:
            initial.append(
                _line(
                    "BOOKMARK",
                    {
                        "kind": t.rtype.kind,
                        "apiVersion": t.rtype.api_version(t.version),
                        "metadata": {
                            "resourceVersion": str(cluster.store.revision),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    },
                )
            )
    else:
        try:
            since = int(rv_param)
        except ValueError:
            since = -1
        events = cluster.store.events_since(since) if since >= 0 else None
        if events is None:
            initial.append(_expired(since, cluster.store.revision))
            return Stream(200, _just(initial))
        for e in events:
            kind = seen_as(e)
            if kind is not None:
                initial.append(_line(kind, shown(kind, e)))
    cluster.store.subscribe(listener)
    bookmark = None
    if query_flag(query, "allowWatchBookmarks"):

        def bookmark() -> bytes:
            return _line(
                "BOOKMARK",
                {
                    "kind": t.rtype.kind,
                    "apiVersion": t.rtype.api_version(t.version),
                    "metadata": {"resourceVersion": str(cluster.store.revision)},
                },
            )

    return Stream(200, _events(cluster, initial, queue, listener, timeout, shown, bookmark))


async def _just(lines: list[bytes]) -> AsyncIterator[bytes]:
    for line in lines:
        yield line


async def _events(
    cluster: Cluster,
    initial: list[bytes],
    queue: asyncio.Queue[tuple[str, StoreEvent]],
    listener: Any,
    timeout: float,
    shown: Any,
    bookmark: Callable[[], bytes] | None,
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + timeout
    next_mark = time.monotonic() + BOOKMARK_SECONDS
    try:
        for line in initial:
            yield line
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                if bookmark is not None and queue.empty():
                    yield bookmark()
                return
            if bookmark is not None and now >= next_mark:
                next_mark = now + BOOKMARK_SECONDS
                yield bookmark()
            wait = min(remaining, next_mark - now) if bookmark is not None else remaining
            try:
                kind, event = await asyncio.wait_for(queue.get(), max(wait, 0.0))
            except TimeoutError:
                continue
            yield _line(kind, shown(kind, event))
    finally:
        cluster.store.unsubscribe(listener)
