"""The source side's state: what each repository resolved to, the render cache, the bundles and
each application's desired state.

Bundles are content-addressed (`bundle:<digest>`), zlib-compressed and immutable; a render key
(what went into a render) points at the digest it produced, so an input seen before is never
rendered again. `app:<name>:desired` points at {revision, digest} and only moves forward.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import DesiredState, RenderFailure, Variant
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.base import raw as raw_bytes

_BUNDLE_CACHE_SIZE = 256
VARIANT_SETS_KEPT = 30
"""Revisions whose per-cluster bundles are kept (`app:<name>:variant_sets`) for rollbacks of
applications with per-cluster variants."""


@dataclass(frozen=True, slots=True)
class RepoState:
    sha: str | None = None
    revision: str | None = None
    polled_at: float | None = None
    fetched_sha: str | None = None
    error: str | None = None
    error_at: float | None = None
    failures: int = 0
    charts: str | None = None
    """A chart repository's or registry's resolutions (JSON, one per application), polled with
    `sha` (their digest)."""


@dataclass(frozen=True, slots=True)
class SourceError:
    message: str
    revision: str
    at: float
    stage: str = "render"
    """Where it failed: "repository" (ls-remote, fetch) or "render"."""


class SourceStore(StoreBase):
    _bundles: OrderedDict[str, Bundle] = OrderedDict()
    _bundles_lock = threading.Lock()

    # Repositories

    def repo_state(self, repo: RepoName) -> RepoState:
        raw = {text(k): text(v) for k, v in self._r.hgetall(self.key("repo", repo)).items()}
        return RepoState(
            sha=raw.get("sha"),
            revision=raw.get("revision"),
            polled_at=float(raw["polled_at"]) if "polled_at" in raw else None,
            fetched_sha=raw.get("fetched_sha"),
            error=raw.get("error"),
            error_at=float(raw["error_at"]) if "error_at" in raw else None,
            failures=int(raw.get("failures", 0)),
            charts=raw.get("charts"),
        )

    def record_poll(
        self, repo: RepoName, *, sha: str, revision: str, charts: str | None = None
    ) -> None:
        """Record what a poll resolved; a chart source's resolutions (`charts`) go with their
        digest (`sha`) in one write, so a fetch never reads one without the other."""
        key = self.key("repo", repo)
        pipe = self._r.pipeline()
        pipe.hset(
            key,
            mapping={
                "sha": sha,
                "revision": revision,
                "polled_at": str(self.now()),
                "failures": "0",
            },
        )
        if charts is not None:
            pipe.hset(key, "charts", charts)
        pipe.hdel(key, "error", "error_at")
        pipe.execute()

    def record_fetched(self, repo: RepoName, sha: str) -> None:
        self._r.hset(self.key("repo", repo), "fetched_sha", sha)

    def record_repo_error(self, repo: RepoName, message: str) -> int:
        """Record a failed poll or fetch; returns the number of failures in a row."""
        key = self.key("repo", repo)
        pipe = self._r.pipeline()
        pipe.hset(key, mapping={"error": message, "error_at": str(self.now())})
        pipe.hincrby(key, "failures", 1)
        return int(pipe.execute()[1])

    def forget_repo(self, repo: RepoName) -> None:
        self._r.delete(self.key("repo", repo))

    # Bundles and the render cache

    def put_bundle(self, bundle: Bundle) -> Digest:
        digest = bundle.digest
        self._r.set(self.key("bundle", digest), zlib.compress(bundle.canonical(), 6), nx=True)
        return digest

    def get_bundle(self, digest: Digest) -> Bundle | None:
        with self._bundles_lock:
            if digest in self._bundles:
                self._bundles.move_to_end(digest)
                return self._bundles[digest]
        raw = self._r.get(self.key("bundle", digest))
        if raw is None:
            return None
        bundle = Bundle.from_canonical(zlib.decompress(raw_bytes(raw)))
        with self._bundles_lock:
            self._bundles[digest] = bundle
            while len(self._bundles) > _BUNDLE_CACHE_SIZE:
                self._bundles.popitem(last=False)
        return bundle

    def bundle_size(self, digest: Digest) -> int | None:
        """Stored (compressed) size in bytes, or None if absent."""
        n = self._r.strlen(self.key("bundle", digest))
        return int(n) if n else None

    def cached_render(self, render_key: str) -> Digest | None:
        raw = self._r.get(self.key("render", render_key))
        return Digest(text(raw)) if raw is not None else None

    def cache_render(
        self, render_key: str, digest: Digest, *, warnings: Sequence[str] = ()
    ) -> None:
        """Remember a render's digest (and what it skipped, its warnings) by its key."""
        if warnings:
            self._r.set(self.key("render", render_key, "warnings"), json.dumps(list(warnings)))
        self._r.set(self.key("render", render_key), digest)

    def render_warnings(self, render_key: str) -> tuple[str, ...]:
        raw = self._r.get(self.key("render", render_key, "warnings"))
        return tuple(json.loads(raw)) if raw is not None else ()

    def render_inputs(self, app: AppName) -> tuple[str, ...] | None:
        """The repository paths the application's last render read (its render key's parts)."""
        raw = self._r.get(self.key("app", app, "inputs"))
        return tuple(json.loads(raw)) if raw is not None else None

    def set_render_inputs(self, app: AppName, inputs: Sequence[str]) -> None:
        self._r.set(self.key("app", app, "inputs"), json.dumps(sorted(set(inputs))))

    # Desired state

    def desired(self, app: AppName) -> DesiredState | None:
        raw = self._r.get(self.key("app", app, "desired"))
        return DesiredState.from_json(json.loads(raw)) if raw is not None else None

    def rendered(self, apps: Sequence[str]) -> list[str]:
        """Those of `apps` that have a desired state (one EXISTS each, in one pipeline)."""
        pipe = self._r.pipeline(transaction=False)
        for app in apps:
            pipe.exists(self.key("app", app, "desired"))
        return [a for a, found in zip(apps, pipe.execute(), strict=True) if found]

    def set_desired(self, app: AppName, state: DesiredState) -> bool:
        """Point the application at `state`; True when its digest changed (a new desired state
        to apply), False when only the observed revision moved."""
        key = self.key("app", app, "desired")
        previous = self.desired(app)
        if previous is not None and previous.digest == state.digest:
            kept = replace(previous, observed=state.observed, warnings=state.warnings)
            self._r.set(key, json.dumps(kept.to_json()))
            return False
        pipe = self._r.pipeline()
        pipe.set(key, json.dumps(state.to_json()))
        pipe.delete(self.key("app", app, "variants"))
        pipe.execute()
        return True

    # Per-cluster variants: `app:<name>:variants`, cluster -> "<digest> <revision>" (and the
    # cluster's own render error); `app:<name>:variant_sets`, revision -> what every cluster
    # got from it, for rollbacks.

    def variant(self, app: AppName, cluster: ClusterName) -> Variant | None:
        raw = self._r.hget(self.key("app", app, "variants"), cluster)
        return Variant.from_text(text(raw)) if raw is not None else None

    def variants(
        self, app: AppName, clusters: Sequence[ClusterName] | None = None
    ) -> dict[ClusterName, Variant]:
        """What each cluster runs (all of them when `clusters` is None); absent: nothing yet."""
        key = self.key("app", app, "variants")
        if clusters is None:
            items: list[tuple[str, Any]] = [(text(k), v) for k, v in self._r.hgetall(key).items()]
        else:
            if not clusters:
                return {}
            items = list(zip(clusters, list(self._r.hmget(key, list(clusters))), strict=True))
        return {ClusterName(c): Variant.from_text(text(raw)) for c, raw in items if raw is not None}

    def set_desired_variants(
        self,
        app: AppName,
        state: DesiredState,
        digests: Mapping[ClusterName, Digest],
        failed: Mapping[ClusterName, str] | None = None,
    ) -> tuple[ClusterName, ...]:
        """Point each cluster of the application at its bundle (`state.digest` names the whole
        map, `state.revision` is what a cluster whose bundle moved records); a cluster in
        `failed` keeps the bundle `digests` gives it (none, if it never had one) and records
        its render error. Clusters in neither are forgotten. Returns the clusters whose record
        moved (a new bundle, or a render error that appeared, changed or went), in one
        transaction. With no bundle at all, the desired state is left as it is."""
        failed = failed or {}
        key = self.key("app", app, "variants")
        current = self.variants(app)
        records: dict[ClusterName, Variant] = {}
        for c, digest in digests.items():
            was = current.get(c)
            kept = was is not None and was.digest == digest
            revision = was.revision if kept and was is not None else state.revision
            records[c] = Variant(revision=revision, digest=digest)
        for c, message in failed.items():
            was = records.get(c) or Variant(revision=state.revision, digest=Digest(""))
            records[c] = replace(was, failed=RenderFailure(state.revision, message))
        moved = tuple(
            sorted(
                c
                for c, v in records.items()
                if c not in current or current[c].to_text() != v.to_text()
            )
        )
        gone = [c for c in current if c not in records]
        ran = {c: v.to_text() for c, v in records.items() if v.digest and v.failed is None}
        # Compact: each distinct bundle once, each cluster by its index (10 regions of 1,000
        # clusters keep 10 bundles and 1,000 small numbers per revision).
        distinct = sorted(set(ran.values()))
        index = {t: i for i, t in enumerate(distinct)}
        at_revision = json.dumps(
            {"bundles": distinct, "clusters": {c: index[t] for c, t in ran.items()}}
        )
        fetched = state.revision
        previous = self.desired(app)
        if previous is not None and previous.digest == state.digest and previous.variants:
            state = replace(previous, observed=state.observed, warnings=state.warnings)
        pipe = self._r.pipeline(transaction=True)
        if digests:
            pipe.set(self.key("app", app, "desired"), json.dumps(state.to_json()))
        if moved:
            pipe.hset(key, mapping={c: records[c].to_text() for c in moved})
        if gone:
            pipe.hdel(key, *gone)
        if ran:
            pipe.hset(self.key("app", app, "variant_sets"), str(fetched), at_revision)
            pipe.zadd(self.key("app", app, "variant_sets", "at"), {str(fetched): self.now()})
        pipe.execute()
        if ran:
            self._trim_variant_sets(app)
        return moved

    def variant_set(self, app: AppName, revision: str) -> dict[ClusterName, Variant] | None:
        """What each cluster that rendered `revision` without error got from it (its own
        bundle, first produced by the revision each records), as the fetch of that revision
        wrote it; None when no such record is kept (see `VARIANT_SETS_KEPT`)."""
        raw = self._r.hget(self.key("app", app, "variant_sets"), revision)
        if raw is None:
            return None
        data = json.loads(raw)
        bundles = [Variant.from_text(t) for t in data["bundles"]]
        return {ClusterName(c): bundles[int(i)] for c, i in data["clusters"].items()}

    def variant_set_revisions(self, app: AppName) -> list[str]:
        """The revisions whose variant sets are kept, newest first."""
        found: list[bytes | str] = self._r.zrevrange(
            self.key("app", app, "variant_sets", "at"), 0, -1
        )  # type: ignore[assignment]
        return [text(r) for r in found]

    def _trim_variant_sets(self, app: AppName) -> None:
        at = self.key("app", app, "variant_sets", "at")
        if int(self._r.zcard(at)) <= VARIANT_SETS_KEPT:
            return
        found: list[bytes | str] = self._r.zrange(at, 0, -(VARIANT_SETS_KEPT + 1))  # type: ignore[assignment]
        old = [text(r) for r in found]
        if old:
            pipe = self._r.pipeline(transaction=True)
            pipe.hdel(self.key("app", app, "variant_sets"), *old)
            pipe.zrem(at, *old)
            pipe.execute()

    def source_error(self, app: AppName) -> SourceError | None:
        raw = self._r.get(self.key("app", app, "source_error"))
        return SourceError(**json.loads(raw)) if raw is not None else None

    def set_source_error(
        self, app: AppName, message: str, *, revision: str, stage: str = "render"
    ) -> None:
        err = SourceError(message=message, revision=revision, at=self.now(), stage=stage)
        self._r.set(self.key("app", app, "source_error"), json.dumps(asdict(err)))

    def clear_source_error(self, app: AppName) -> None:
        self._r.delete(self.key("app", app, "source_error"))
