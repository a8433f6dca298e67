"""A bundle: the rendered desired state of one application at one revision.

A bundle is a sorted tuple of Kubernetes objects. Its digest is the sha256 of its canonical JSON
form, so equal content has equal digest whatever rendered it: the store keeps bundles
content-addressed and immutable, and a digest that did not change means nothing to apply.

A rendered bundle also keeps the file each object came from (`sources`: a repository-relative
file, a chart's template), for the errors that name an object's file. The sources are part of the
canonical form (and so of the digest: the same input still gives the same digest) but never of
an object: nothing of them is applied to a cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.resource import ResourceKey

Manifest = Mapping[str, Any]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Bundle:
    objects: tuple[Manifest, ...]
    sources: tuple[str, ...] = ()
    """The file each object was rendered from, parallel to `objects`; empty when not known (a
    bundle stored before sources were kept)."""
    _digest: Digest | None = field(default=None, init=False, repr=False, compare=False)
    """The digest once computed (a bundle never changes: a process keeps the bundles it read,
    and each reconcile of the bundle on another cluster asks for it again)."""

    @classmethod
    def of(cls, objects: Iterable[Manifest], sources: Iterable[str] | None = None) -> Bundle:
        """A bundle of the objects (and their source files), sorted by resource key (the order
        never changes the digest)."""
        items = list(objects)
        if sources is None:
            return cls(tuple(sorted(items, key=_sort_key)))
        pairs = sorted(zip(items, sources, strict=True), key=lambda pair: _sort_key(pair[0]))
        return cls(tuple(o for o, _ in pairs), tuple(s for _, s in pairs))

    def with_objects(self, objects: Iterable[Manifest]) -> Bundle:
        """Other objects (the same ones changed: patched, substituted) with the sources of the
        objects of the same resource key here (none for an object that is new)."""
        if not self.sources:
            return Bundle.of(objects)
        known = dict(zip((str(k) for k in self.keys), self.sources, strict=True))
        items = list(objects)
        return Bundle.of(items, [known.get(str(ResourceKey.of(o)), "") for o in items])

    def source_of(self, index: int) -> str:
        """The file object `index` was rendered from; "" when not known."""
        return self.sources[index] if index < len(self.sources) else ""

    @property
    def keys(self) -> tuple[ResourceKey, ...]:
        return tuple(ResourceKey.of(o) for o in self.objects)

    def canonical(self) -> bytes:
        if not self.sources:
            return canonical_json(list(self.objects))
        return canonical_json({"objects": list(self.objects), "sources": list(self.sources)})

    @property
    def digest(self) -> Digest:
        if self._digest is None:
            object.__setattr__(
                self, "_digest", Digest(hashlib.sha256(self.canonical()).hexdigest())
            )
        assert self._digest is not None
        return self._digest

    @classmethod
    def from_canonical(cls, data: bytes) -> Bundle:
        loaded = json.loads(data)
        if isinstance(loaded, dict):
            return cls(tuple(loaded["objects"]), tuple(loaded["sources"]))
        return cls(tuple(loaded))


def _sort_key(obj: Manifest) -> str:
    return str(ResourceKey.of(obj))
