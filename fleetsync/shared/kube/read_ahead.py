"""A reconcile's first reads sent together: one round of concurrent requests, not one after another.

The first reconcile of a commit on a cluster reads, before its one write, the cluster's uid and
claim (`identity`), the application's inventory copy (`inventory`), the namespaces its objects
go to and a LIST per kind (`apply`, `read`): seven round trips in a row where one round would
do, since none of these reads depends on another's answer. The modules that make the reads say
which they will make first (`claim_reads`, `record_read`, `first_reads`); `ReadAhead.fetch`
sends those together on a small shared thread pool, and the reconcile then runs exactly as
before on the `ReadAhead` client: each held answer is given to the first request that asks for
the same thing (a GET of the same object, a LIST of the same kind, namespace and selector), as
if that request had been sent then; a later one goes to the server.

What the reconcile sees does not change:
- a read's failure (403, 404 as None, 5xx, a timeout) is held and raised to the request that
  asks for it, where it would have been raised, and handled there as before (a LIST refused
  falls back to narrower requests; an unreachable cluster fails the reconcile);
- a write (apply, create, delete; not a dry-run) drops every answer not taken yet: what was
  read before it may no longer be what the server holds, so those reads go to the server;
- a read not sent yet when it is asked for (the pool busy with other clusters' reads) is taken
  back and made by the caller itself: no reconcile waits for another cluster's reads, and a
  hanging cluster holds at most `READ_AHEAD_THREADS` pool threads, never a task's thread;
- a read predicted wrongly is one request nobody takes (a namespace the bundle declares that
  does not exist yet defers its objects, so their LIST is not asked for).

One `ReadAhead` serves one reconcile in one task thread, on the shared client's connection
pool and discovery.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient, SharingClient

Manifest = Mapping[str, Any]

READ_AHEAD_THREADS = 16
"""Threads of a process sending reads ahead, for every cluster together."""

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Read:
    """One read a reconcile will make: a GET of `name`, else a LIST (with `selector`)."""

    resource: ApiResource
    namespace: str = ""
    name: str = ""
    selector: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        if self.name:
            return ("get", self.resource.path(namespace=self.namespace, name=self.name), "")
        return ("list", self.resource.path(namespace=self.namespace), self.selector)


class ReadAhead(SharingClient):
    """A reconcile's client whose first reads were sent together (see the module docstring)."""

    def __init__(self, shared: ClusterClient) -> None:
        super().__init__(shared)
        self._held: dict[tuple[str, str, str], Future[Any]] = {}

    def fetch(self, reads: Iterable[Read]) -> None:
        """Send `reads` together (each once); their answers are held for the requests to come."""
        pool = _executor()
        for read in reads:
            if read.key not in self._held:
                self._held[read.key] = pool.submit(self._read, read)

    def _read(self, read: Read) -> Any:
        if read.name:
            return super().get(read.resource, name=read.name, namespace=read.namespace)
        return super().list(read.resource, namespace=read.namespace, label_selector=read.selector)

    def _take(self, read: Read) -> Future[Any] | None:
        """The held answer to `read`, or None: not held, or not sent yet (the caller sends it)."""
        future = self._held.pop(read.key, None)
        if future is None or future.cancel():
            return None
        return future

    def get(self, resource: ApiResource, *, name: str, namespace: str = "") -> Manifest | None:
        future = self._take(Read(resource, namespace, name))
        if future is None:
            return super().get(resource, name=name, namespace=namespace)
        found: Manifest | None = future.result()
        return found

    def list(
        self, resource: ApiResource, *, namespace: str = "", label_selector: str = ""
    ) -> list[Manifest]:
        future = self._take(Read(resource, namespace, selector=label_selector))
        if future is None:
            return super().list(resource, namespace=namespace, label_selector=label_selector)
        listed: list[Manifest] = future.result()
        return listed

    def apply(
        self, resource: ApiResource, obj: Manifest, *, force: bool, dry_run: bool = False
    ) -> Manifest:
        if not dry_run:
            self._drop()
        return super().apply(resource, obj, force=force, dry_run=dry_run)

    def create(self, resource: ApiResource, obj: Manifest) -> Manifest:
        self._drop()
        return super().create(resource, obj)

    def delete(
        self,
        resource: ApiResource,
        *,
        name: str,
        namespace: str = "",
        propagation: str = "Background",
    ) -> bool:
        self._drop()
        return super().delete(resource, name=name, namespace=namespace, propagation=propagation)

    def _drop(self) -> None:
        """Before a write: what was read ahead and not taken yet is read again when asked for."""
        for future in self._held.values():
            future.cancel()
        self._held.clear()


def _executor() -> ThreadPoolExecutor:
    """The process's pool (made again in a forked child, which has none of its threads)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(READ_AHEAD_THREADS, thread_name_prefix="fleetsync-read")
            _pool_pid = os.getpid()
        return _pool
