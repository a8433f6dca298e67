"""Process settings, read once from the environment (FLEETSYNC_*).

Only names and paths live here; a credential is never a setting's value.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FLEETSYNC_{name}", default)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fleetsync"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fleetsync"


KUBE_CONNECTIONS = 4
"""The default of `Settings.kube_connections` (why 4: its docstring)."""


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    fleet_file: Path | None = None
    cache_dir: Path = field(default_factory=_default_cache_dir)
    data_dir: Path = field(default_factory=_default_data_dir)
    """Where `fleetsync up` keeps its embedded Redis's data between runs."""
    tick_seconds: float = 2.0
    key_prefix: str = "fleetsync"
    kube_clients: int | None = None
    """The most Kubernetes clients (with their discovery) an apply worker keeps, or None (unset):
    one for every cluster the published fleet declares, at least 512. Above the number of
    clusters it serves, every reconcile reuses a connection instead of re-reading kubeconfig
    and discovery and opening a new one; below it, memory is bounded and reconciles reconnect."""
    kube_connections: int = KUBE_CONNECTIONS
    """The most connections a kept Kubernetes client holds idle to its cluster (its connection
    pool's size). A worker keeps a client per cluster, and each would otherwise keep as many
    connections as it ever had open at once, up to the kubernetes client's default of 5 per
    CPU (10 on 2 cores, 80 on 16): a worker's idle connections are clusters x this (sockets,
    open files, TLS state, and as many idle connections on each API server). A burst beyond it
    is not held back: the extra connections are made, and closed once answered.

    Why 4. A worker's requests to one cluster overlap in two places only. A reconcile of one
    pair sends its first reads together (kube/read_ahead.py): the claim's two (when not
    verified lately) and, before an apply, the inventory copy, the namespaces and a LIST per
    kind, 3 to 6 at once; several pairs' tasks of one cluster may run together besides (up to
    `cluster_threads`). One task per pair, 10 applications on each of 200 clusters, kept 4.0
    to 4.6 connections per cluster unbounded (4.0 with `cluster_threads` 1: one reconcile's
    first round does it; `python -m bench.apply_path scale --pairs 2000 --clusters 200 --batch
    0`), a per-cluster task (`cluster_batch`), whose pairs run one after another, 1.
    Everything else a task sends goes one request after another. Four holds the first round of
    a one-pair reconcile, the path of a commit's fan-out to every cluster, so that path makes
    no new connection (on a real cluster: no TLS handshake) per reconcile; a bound of 2 kept 2
    per cluster but made 1.0 connection per pair in the run above (0.1 with 3). Lower it for a
    fleet of many thousand clusters per worker, raise it for a small fleet whose clusters each
    see many tasks at once."""
    hostname: str = field(default_factory=socket.gethostname)
    lease_seconds: float = 20.0
    """How long a lease (a pair's lock, a task's in-flight record) outlives its holder's last
    renewal: how soon the work of a dead worker is taken up again."""
    render_timeout: float = 60.0
    """Seconds one Helm or kustomize render may take before its process is killed."""
    render_memory_mib: int = 1024
    """Data memory (MiB) one Helm or kustomize render process may use (RLIMIT_DATA)."""
    notify_timeout: float = 5.0
    """Seconds a notification's receiver has to answer before the delivery is retried."""
    cluster_threads: int = 4
    """The most threads of one apply worker that work on one cluster at a time (a bulkhead: a
    hanging cluster holds at most these; its other tasks are queued again with a countdown)."""
    cluster_batch: int = 2
    """A commit that changes at least this many applications on one cluster converges them in
    one task per cluster (0: one task per pair always). 2 by default: measured faster than one
    task per pair (bench/RESULTS.md)."""
    task_events: bool = False
    """Whether workers send Celery task events (and senders task-sent events) from the start.
    Off by default: events cost a publish per task step and only Flower reads them; Flower
    turns them on in running workers itself (its `enable_events`), and `fleetsync up` turns
    them on when it runs Flower."""

    @property
    def mirror_dir(self) -> Path:
        return self.cache_dir / "mirrors"

    @property
    def chart_dir(self) -> Path:
        """The chart cache: chart archives by digest, and the index.yaml copies last read."""
        return self.cache_dir / "charts"

    @property
    def scratch_dir(self) -> Path:
        return self.cache_dir / "scratch"

    @property
    def kube_cache_dir(self) -> Path:
        return self.cache_dir / "kube"


def load_settings() -> Settings:
    fleet = _env("FLEET", "")
    return Settings(
        redis_url=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        fleet_file=Path(fleet) if fleet else None,
        cache_dir=Path(_env("CACHE_DIR", str(_default_cache_dir()))),
        data_dir=Path(_env("DATA_DIR", str(_default_data_dir()))),
        tick_seconds=float(_env("TICK_SECONDS", "2")),
        key_prefix=_env("KEY_PREFIX", "fleetsync"),
        kube_clients=_positive_int("KUBE_CLIENTS", "") if _env("KUBE_CLIENTS", "") else None,
        kube_connections=int(
            _bounded_number(
                "KUBE_CONNECTIONS",
                str(KUBE_CONNECTIONS),
                low=1,
                high=1000,
                unit="connections",
                whole=True,
            )
        ),
        lease_seconds=float(_positive_int("LEASE_SECONDS", "20")),
        render_timeout=_bounded_number("RENDER_TIMEOUT", "60", low=1, high=3600, unit="seconds"),
        render_memory_mib=int(
            _bounded_number("RENDER_MEMORY", "1024", low=256, high=65536, unit="MiB", whole=True)
        ),
        notify_timeout=_bounded_number("NOTIFY_TIMEOUT", "5", low=0.1, high=60, unit="seconds"),
        cluster_threads=_positive_int("CLUSTER_THREADS", "4"),
        cluster_batch=int(
            _bounded_number("CLUSTER_BATCH", "2", low=0, high=100_000, unit="pairs", whole=True)
        ),
        task_events=_switch("TASK_EVENTS", "0"),
    )


_SWITCH = {"1": True, "true": True, "yes": True, "on": True}
_SWITCH.update({"0": False, "false": False, "no": False, "off": False, "": False})


def _switch(name: str, default: str) -> bool:
    raw = _env(name, default)
    if raw.strip().lower() not in _SWITCH:
        raise ValueError(f"FLEETSYNC_{name}={raw[:40]!r}: expected 1 or 0 (true/false, yes/no)")
    return _SWITCH[raw.strip().lower()]


def _positive_int(name: str, default: str) -> int:
    raw = _env(name, default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"FLEETSYNC_{name}={raw!r}: expected a whole number of 1 or more")
    return value


def _bounded_number(
    name: str, default: str, *, low: float, high: float, unit: str, whole: bool = False
) -> float:
    raw = _env(name, default)
    try:
        value = float(int(raw) if whole else float(raw))
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ValueError(
            f"FLEETSYNC_{name}={raw[:40]!r}: expected {kind} of {unit} from {low:g} to {high:g}"
        )
    return value
