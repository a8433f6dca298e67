"""What an application should run: the desired state the source side renders, and the rollback
pin an operator sets in its place. Stored as JSON by the store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.revision import Revision


@dataclass(frozen=True, slots=True)
class DesiredState:
    """The bundle `digest`, first produced by `revision`; `observed` is the newest revision
    checked, which may be later when commits did not touch the application."""

    revision: Revision
    digest: Digest
    renderer: str
    rendered_at: float
    observed: Revision | None = None
    warnings: tuple[str, ...] = ()
    """What the render skipped and says so (files without a Kubernetes object, Helm tests)."""
    variants: int = 0
    """0: every cluster runs `digest`. Otherwise the number of distinct bundles its clusters
    run (per-cluster variants, `app:<name>:variants`), and `digest` identifies the whole set."""

    def to_json(self) -> dict[str, Any]:
        return {
            "variants": self.variants,
            "revision": str(self.revision),
            "digest": self.digest,
            "renderer": self.renderer,
            "rendered_at": self.rendered_at,
            "observed": str(self.observed) if self.observed is not None else None,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DesiredState:
        observed = data.get("observed") or None
        return cls(
            revision=Revision.parse(data["revision"]),
            digest=Digest(data["digest"]),
            renderer=data["renderer"],
            rendered_at=float(data["rendered_at"]),
            observed=Revision.parse(observed) if observed else None,
            warnings=tuple(data.get("warnings") or ()),
            variants=int(data.get("variants") or 0),
        )


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A render that failed for one cluster only (a variable its values do not define): the
    revision it was rendering and the error naming the variable, the object and the file."""

    revision: Revision
    message: str

    def describe(self) -> str:
        return f"the render of {self.revision} failed for this cluster: {self.message}"


@dataclass(frozen=True, slots=True)
class Variant:
    """What one cluster of an application with per-cluster variants runs: the bundle `digest`,
    first produced for it by `revision` ("" when no render ever succeeded for it). `failed`:
    the latest render failed for this cluster, which keeps `digest` meanwhile."""

    revision: Revision
    digest: Digest
    failed: RenderFailure | None = None

    def to_text(self) -> str:
        head = f"{self.digest or '-'} {self.revision}"
        if self.failed is None:
            return head
        failure = {"revision": str(self.failed.revision), "message": self.failed.message}
        return f"{head}\t{json.dumps(failure, ensure_ascii=False)}"

    @classmethod
    def from_text(cls, text: str) -> Variant:
        head, _, failure = text.partition("\t")
        digest, _, revision = head.partition(" ")
        failed = None
        if failure:
            data = json.loads(failure)
            failed = RenderFailure(Revision.parse(data["revision"]), str(data["message"]))
        return cls(
            revision=Revision.parse(revision),
            digest=Digest("" if digest == "-" else digest),
            failed=failed,
        )


@dataclass(frozen=True, slots=True)
class Pin:
    """A rollback: apply `digest` (first produced by `revision`) instead of the desired state.
    For an application with per-cluster variants, `clusters` pins each cluster to the bundle it
    had at `revision` (and `digest` names that whole map)."""

    revision: Revision
    digest: Digest
    at: float
    clusters: Mapping[str, Variant] = field(default_factory=dict)

    def for_cluster(self, cluster: str) -> Variant | None:
        """What the pin gives `cluster`: the one bundle, or the cluster's own (None when the
        cluster is not among those pinned: it did not run the revision)."""
        if not self.clusters:
            return Variant(revision=self.revision, digest=self.digest)
        return self.clusters.get(cluster)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "revision": str(self.revision),
            "digest": self.digest,
            "at": self.at,
        }
        if self.clusters:
            found["clusters"] = {c: v.to_text() for c, v in sorted(self.clusters.items())}
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pin:
        return cls(
            revision=Revision.parse(data["revision"]),
            digest=Digest(data["digest"]),
            at=float(data["at"]),
            clusters={
                str(c): Variant.from_text(str(v)) for c, v in (data.get("clusters") or {}).items()
            },
        )


@dataclass(frozen=True, slots=True)
class Intents:
    """What operators decided about one application: suspended, rolled back to a pin, and
    when they last changed either (`at`, 0 when never). Mirrored in each target cluster so that
    a Redis that lost its data gets them back (see `fleetsync.shared.intents`)."""

    suspended: bool = False
    pin: Pin | None = None
    at: float = 0.0

    @property
    def any(self) -> bool:
        return self.suspended or self.pin is not None

    def fingerprint(self, epoch: str) -> str:
        """What a mirror written in Redis's life `epoch` holds, in one comparable string."""
        pin = f"{self.pin.revision}@{self.pin.digest}" if self.pin else ""
        return f"{epoch}|{self.at!r}|{int(self.suspended)}|{pin}"

    def to_json(self) -> dict[str, Any]:
        return {
            "suspended": self.suspended,
            "pin": self.pin.to_json() if self.pin else None,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Intents:
        pin = data.get("pin")
        return cls(
            suspended=bool(data.get("suspended")),
            pin=Pin.from_json(pin) if pin else None,
            at=float(data.get("at") or 0.0),
        )
