"""The Python API: start a kubesim in a background thread, drive it, stop it.

    with Simulator(clusters=["c1", "c2"]) as sim:
        sim.kubeconfig_path("c1")
        sim.cluster("c1").set_fault(latency=0.2)

The server runs its own asyncio loop in a daemon thread; every call from the caller's thread is
marshalled onto that loop, so cluster state is only ever touched by one thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from kubesim.admin import Admin
from kubesim.cluster import Cluster
from kubesim.faults import (
    NO_FAULTS,
    ControllerSettings,
    DownMode,
    FaultSettings,
    RequestRecord,
)
from kubesim.fleet import Fleet
from kubesim.httpserver import start_server
from kubesim.routing import ApiServer
from kubesim.store import EVENT_LOG_SIZE
from kubesim.watch import watch_response

T = TypeVar("T")


def cluster_names(count: int, prefix: str = "sim-") -> list[str]:
    """`sim-001`, `sim-002` ... (at least three digits)."""
    width = max(3, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


async def open_fleet(
    names: Sequence[str],
    host: str,
    port: int,
    kubeconfig_dir: Path,
    controllers: ControllerSettings | None = None,
    event_log_size: int = EVENT_LOG_SIZE,
) -> tuple[Fleet, asyncio.Server]:
    """Start serving `names` on the running loop; returns the fleet and the listening server."""
    api = ApiServer()
    api.watch = watch_response
    server = await start_server(api.handle, host, port, api.max_body, api.connections)
    bound = server.sockets[0].getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    fleet = Fleet(
        api,
        asyncio.get_running_loop(),
        f"http://{url_host}:{bound}",
        kubeconfig_dir,
        controllers,
        event_log_size,
    )
    api.admin = Admin(fleet)
    for name in names:
        fleet.add(name, write_combined=False)
    fleet.rewrite_combined()
    return fleet, server


class ClusterHandle:
    """A simulated cluster, seen from the caller's thread."""

    def __init__(self, sim: Simulator, name: str) -> None:
        self._sim = sim
        self.name = name

    def _cluster(self) -> Cluster:
        return self._sim.fleet.get(self.name)

    def _do(self, fn: Callable[[Cluster], T]) -> T:
        return self._sim.call(lambda: fn(self._cluster()))

    @property
    def server(self) -> str:
        return self._sim.fleet.server_url(self.name)

    @property
    def token(self) -> str:
        return self._do(lambda c: c.token)

    def objects(self) -> list[dict[str, Any]]:
        """Every stored object of this cluster (namespaces included)."""
        return self._do(lambda c: c.objects())

    def set_fault(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        error_code: int = 503,
        down: bool = False,
        down_mode: DownMode | str = DownMode.CLOSE,
        forbidden: bool = False,
        unauthorized: bool = False,
        forbidden_lists: Iterable[tuple[str, str]] = (),
        watches: str = "serve",
        hold: bool = False,
        forbidden_deletes: Iterable[tuple[str, str]] = (),
        forbidden_writes: Iterable[tuple[str, str]] = (),
    ) -> FaultSettings:
        """Replace this cluster's faults (anything not given is reset).

        `forbidden_lists`: (resource, namespace) pairs whose LIST is refused with 403, as RBAC
        would ("" for the LIST across all namespaces); see `forbid_lists`. `forbidden_deletes`:
        the same for the DELETE of one object ("" for everywhere); see `forbid_deletes`.
        `forbidden_writes`: the same for its writes (create, update, patch, apply); see
        `forbid_writes`.
        `watches`: "serve",
        "forbid" (403) or "close" (every watch ends at once). `hold`: every API request waits
        unanswered until the faults are changed or cleared (`held` counts them)."""
        faults = FaultSettings(
            latency,
            error_rate,
            error_code,
            down,
            DownMode(down_mode),
            forbidden,
            unauthorized,
            tuple(forbidden_lists),
            watches,
            hold,
            tuple(forbidden_deletes),
            tuple(forbidden_writes),
        )

        def set_(c: Cluster) -> FaultSettings:
            c.faults = faults
            return faults

        return self._do(set_)

    def forbid_lists(self, resource: str, namespaces: Iterable[str] = ("",)) -> FaultSettings:
        """Refuse LISTs of `resource` (a plural: "configmaps") with 403, across all namespaces
        ("") and/or in the given ones, keeping the other faults: credentials narrowed by RBAC."""

        def set_(c: Cluster) -> FaultSettings:
            pairs = {*c.faults.forbidden_lists, *((resource, ns) for ns in namespaces)}
            c.faults = replace(c.faults, forbidden_lists=tuple(sorted(pairs)))
            return c.faults

        return self._do(set_)

    def forbid_deletes(self, resource: str, namespaces: Iterable[str] = ("",)) -> FaultSettings:
        """Refuse DELETEs of one `resource` object (a plural: "configmaps") with 403, everywhere
        ("") and/or in the given namespaces, keeping the other faults: credentials that may read
        and write but not delete, as RBAC without the delete verb (or an admission webhook that
        refuses deletes)."""

        def set_(c: Cluster) -> FaultSettings:
            pairs = {*c.faults.forbidden_deletes, *((resource, ns) for ns in namespaces)}
            c.faults = replace(c.faults, forbidden_deletes=tuple(sorted(pairs)))
            return c.faults

        return self._do(set_)

    def forbid_writes(self, resource: str, namespaces: Iterable[str] = ("",)) -> FaultSettings:
        """Refuse the writes of one `resource` object (create, update, patch, server-side apply,
        their dry-runs too) with RBAC's 403, everywhere ("") and/or in the given namespaces,
        keeping the other faults: credentials that may read a namespace but not write there."""

        def set_(c: Cluster) -> FaultSettings:
            pairs = {*c.faults.forbidden_writes, *((resource, ns) for ns in namespaces)}
            c.faults = replace(c.faults, forbidden_writes=tuple(sorted(pairs)))
            return c.faults

        return self._do(set_)

    def clear_faults(self) -> None:
        self._do(lambda c: setattr(c, "faults", NO_FAULTS))

    @property
    def faults(self) -> FaultSettings:
        return self._do(lambda c: c.faults)

    def set_controllers(
        self,
        *,
        enabled: bool = True,
        ready_delay: float = 0.5,
        never_ready: bool = False,
        crd_established_delay: float = 0.0,
        job_result: str = "complete",
    ) -> ControllerSettings:
        """Replace this cluster's controller settings; `crd_established_delay` keeps a created
        CRD not Established (its kind not served) for that many seconds; `job_result` says how
        Jobs and run-to-completion Pods end: "complete", "fail" or "run" (never)."""
        settings = ControllerSettings(
            enabled, ready_delay, never_ready, crd_established_delay, job_result
        )
        self._do(lambda c: setattr(c, "controllers", settings))
        return settings

    def compact(self) -> int:
        """Compact this cluster's history now, as a real API server compacts etcd every five
        minutes: older watch revisions and list continuations are answered 410 from then on.
        Returns the revision compacted at."""
        return self._do(lambda c: c.store.compact())

    def held(self) -> int:
        """API requests waiting for the `hold` fault to be lifted now."""
        return self._do(lambda c: c.held)

    def request_log(self) -> list[RequestRecord]:
        return self._do(lambda c: c.requests.records())

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Requests served, by (verb, resource); verbs as the audit log names them, plus
        `apply` for server-side apply patches and `discovery` as a resource.

        A write sent with `dryRun=All` (create, update, patch, apply, delete, deletecollection)
        is counted apart, under `<verb>-dry-run`: `("apply", "configmaps")` counts server-side
        applies that could change the cluster, `("apply-dry-run", "configmaps")` the dry-runs.
        In `request_log()` such a request keeps its verb and has `dry_run=True`."""
        return self._do(lambda c: c.requests.counts())

    def reset_request_counts(self) -> None:
        self._do(lambda c: c.requests.reset())


class Simulator:
    """Many simulated Kubernetes clusters served over HTTP from a background thread."""

    def __init__(
        self,
        clusters: Sequence[str] | int = 1,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_dir: str | Path | None = None,
        name_prefix: str = "sim-",
        controllers: ControllerSettings | None = None,
        event_log_size: int = EVENT_LOG_SIZE,
    ) -> None:
        self._event_log_size = event_log_size
        self.names = list(
            cluster_names(clusters, name_prefix) if isinstance(clusters, int) else clusters
        )
        self.host = host
        self.requested_port = port
        self._own_dir = kubeconfig_dir is None
        self.kubeconfig_dir = Path(kubeconfig_dir or tempfile.mkdtemp(prefix="kubesim-"))
        self.kubeconfig_dir.mkdir(parents=True, exist_ok=True)
        self._controllers = controllers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._fleet: Fleet | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Simulator:
        self._thread = threading.Thread(target=self._run, name="kubesim", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"kubesim failed to start: {self._error}") from self._error
        if self._fleet is None:
            raise RuntimeError("kubesim did not start within 30 s")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        fleet, server = await open_fleet(
            self.names,
            self.host,
            self.requested_port,
            self.kubeconfig_dir,
            self._controllers,
            self._event_log_size,
        )
        self._fleet = fleet
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        if self._own_dir:
            shutil.rmtree(self.kubeconfig_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access -----------------------------------------------------------------------------

    @property
    def fleet(self) -> Fleet:
        if self._fleet is None:
            raise RuntimeError("the simulator is not running")
        return self._fleet

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the simulator is not running")
        if threading.current_thread() is self._thread:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(30)

    @property
    def url(self) -> str:
        return self.fleet.base_url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def connections(self) -> tuple[int, int]:
        """Client connections to the server (every cluster's): (accepted since it started,
        open now)."""
        counted = self.fleet.api.connections
        return self.call(lambda: (counted.accepted, counted.open))

    def kubeconfig_path(self, name: str) -> Path:
        self.fleet.get(name)
        return self.kubeconfig_dir / f"{name}.kubeconfig"

    def combined_kubeconfig_path(self) -> Path:
        return self.kubeconfig_dir / "_combined.kubeconfig"

    def cluster_names(self) -> list[str]:
        return self.call(lambda: list(self.fleet.api.clusters))

    def cluster(self, name: str) -> ClusterHandle:
        self.call(lambda: self.fleet.get(name))
        return ClusterHandle(self, name)

    def add_cluster(self, name: str) -> ClusterHandle:
        self.call(lambda: self.fleet.add(name))
        return ClusterHandle(self, name)

    def remove_cluster(self, name: str) -> None:
        self.call(lambda: self.fleet.remove(name))

    def set_controllers_default(self, settings: ControllerSettings) -> None:
        """Controller settings for clusters added from now on."""
        self.call(lambda: setattr(self.fleet, "defaults", replace(settings)))
