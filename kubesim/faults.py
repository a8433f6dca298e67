"""Per-cluster knobs set at run time: injected faults, simulated controllers, the request log.

All three are plain values so that the Python API and the admin endpoint set them the same way.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

ERROR_CODES = (429, 500, 503)
WATCH_ANSWERS = ("serve", "forbid", "close")
REQUEST_LOG_SIZE = 1000


class DownMode(StrEnum):
    """How a "down" cluster fails: the connection is closed at once, or never answered."""

    CLOSE = "close"
    HANG = "hang"


@dataclass(frozen=True)
class FaultSettings:
    """Faults injected into one cluster's API requests (the admin API is never affected).

    `forbidden` answers every request 403; `unauthorized` answers 401 as if the credentials
    were refused (a request carrying a wrong token always gets 401). `forbidden_lists` narrows
    the credentials like RBAC: each (resource, namespace) pair answers a LIST of that resource
    403, in that namespace, or across all namespaces when the namespace is "" (other requests,
    LISTs elsewhere included, are served). `forbidden_deletes` does the same for DELETEs of one
    object: each (resource, namespace) pair answers a DELETE of that resource 403 in that
    namespace, or everywhere (every namespace and the cluster scope) when the namespace is "", as
    RBAC without the delete verb; reads and other writes are served, so an object is found and
    then refused deletion. `forbidden_writes` the same for the writes of one object (create,
    update, patch, server-side apply, dry-runs included: RBAC's "create", "update" and "patch"
    verbs), as RBAC that lets the credentials read a namespace but not write there; reads and
    deletes are served. `watches` is how WATCH requests are answered:
    "serve" (normally), "forbid" (403, as RBAC without the watch verb) or "close" (200, then
    the stream ends at once, as a proxy that cuts long requests). `hold` keeps every API
    request unanswered until the fault is lifted (`ClusterHandle.held()` counts those
    waiting): which requests a client has in flight together, seen without a clock.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    error_code: int = 503
    down: bool = False
    down_mode: DownMode = DownMode.CLOSE
    forbidden: bool = False
    unauthorized: bool = False
    forbidden_lists: tuple[tuple[str, str], ...] = ()
    watches: str = "serve"
    hold: bool = False
    forbidden_deletes: tuple[tuple[str, str], ...] = ()
    forbidden_writes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name, everywhere in (
            ("forbidden_lists", "a LIST across all namespaces"),
            ("forbidden_deletes", "everywhere"),
            ("forbidden_writes", "everywhere"),
        ):
            pairs = []
            for pair in getattr(self, name):
                resource, namespace = pair
                if not isinstance(resource, str) or not isinstance(namespace, str) or not resource:
                    raise ValueError(
                        f'{name} holds [resource, namespace] pairs (namespace "" for {everywhere})'
                    )
                pairs.append((resource, namespace))
            object.__setattr__(self, name, tuple(pairs))
        if self.latency < 0:
            raise ValueError("latency must be >= 0 seconds")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if self.error_code not in ERROR_CODES:
            raise ValueError(f"error_code must be one of {ERROR_CODES}")
        object.__setattr__(self, "down_mode", DownMode(self.down_mode))
        if self.watches not in WATCH_ANSWERS:
            raise ValueError(f"watches must be one of {WATCH_ANSWERS}")

    @property
    def active(self) -> bool:
        return self != NO_FAULTS

    def lists_forbidden(self, resource: str, namespace: str) -> bool:
        return (resource, namespace) in self.forbidden_lists

    def deletes_forbidden(self, resource: str, namespace: str) -> bool:
        return bool({(resource, namespace), (resource, "")} & set(self.forbidden_deletes))

    def writes_forbidden(self, resource: str, namespace: str) -> bool:
        return bool({(resource, namespace), (resource, "")} & set(self.forbidden_writes))

    def to_dict(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}
        for pairs in ("forbidden_lists", "forbidden_deletes", "forbidden_writes"):
            out[pairs] = [list(p) for p in getattr(self, pairs)]
        return out


NO_FAULTS = FaultSettings()


JOB_RESULTS = ("complete", "fail", "run")


@dataclass(frozen=True)
class ControllerSettings:
    """Simulated controllers: whether they run, how long workloads take, whether ever ready,
    and how long a new CRD takes to become Established."""

    enabled: bool = True
    ready_delay: float = 0.5
    never_ready: bool = False
    crd_established_delay: float = 0.0
    """Seconds a created CustomResourceDefinition stays not Established (its kind unserved)."""
    job_result: str = "complete"
    """How Jobs, and Pods that run to completion (restartPolicy Never or OnFailure), end after
    `ready_delay`: "complete" (Succeeded), "fail" (a Job's backoff limit reached, a Pod Failed
    or in CrashLoopBackOff) or "run" (they stay active: a Job that never completes, a Pod
    Running)."""

    def __post_init__(self) -> None:
        if self.job_result not in JOB_RESULTS:
            raise ValueError(f"job_result must be one of {', '.join(JOB_RESULTS)}")
        if self.ready_delay < 0:
            raise ValueError("ready_delay must be >= 0 seconds")
        if self.crd_established_delay < 0:
            raise ValueError("crd_established_delay must be >= 0 seconds")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_from_mapping(cls: type[Any], base: Any, values: Mapping[str, Any]) -> Any:
    """A copy of `base` with the known keys of `values` replaced; unknown keys are an error."""
    known = {f.name: f.type for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    merged = {**asdict(base), **values}
    for pairs in ("forbidden_lists", "forbidden_deletes", "forbidden_writes"):
        if pairs in merged:
            merged[pairs] = tuple(tuple(p) for p in merged[pairs] or ())
    return cls(**merged)


DRY_RUN_SUFFIX = "-dry-run"


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the request log keeps it.

    `dry_run` marks a write sent with `dryRun` (create, update, patch, apply, delete...): the
    server validated it and persisted nothing. Its `verb` stays the write's own (`apply`).
    """

    time: float
    verb: str
    resource: str
    namespace: str
    name: str
    code: int
    dry_run: bool = False

    @property
    def counter(self) -> tuple[str, str]:
        """The counter this request adds to: (verb, resource), the verb suffixed with
        `-dry-run` for a dry-run (`("apply-dry-run", "configmaps")`)."""
        return (self.verb + DRY_RUN_SUFFIX if self.dry_run else self.verb, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Counters by (verb, resource) and the last requests, allocated on first use.

    Dry-run writes count under their own verb, `<verb>-dry-run` (see `RequestRecord.counter`),
    so that `("apply", "configmaps")` counts only applies that could change the cluster.
    """

    __slots__ = ("_counts", "_records")

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] | None = None
        self._records: deque[RequestRecord] | None = None

    def record(self, record: RequestRecord) -> None:
        if self._counts is None:
            self._counts = Counter()
            self._records = deque(maxlen=REQUEST_LOG_SIZE)
        self._counts[record.counter] += 1
        assert self._records is not None
        self._records.append(record)

    def counts(self) -> dict[tuple[str, str], int]:
        return dict(self._counts or {})

    def records(self) -> list[RequestRecord]:
        return list(self._records or ())

    def reset(self) -> None:
        self._counts = None
        self._records = None
