"""A bundle: the rendered desired state of one application at one revision.

A bundle is a sorted tuple of Kubernetes objects. Its digest is the sha256 of its canonical JSON
form, so equal content has equal digest whatever rendered it: the store keeps bundles
content-addressed and immutable, and a digest that did not change means nothing to apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.resource import ResourceKey

Manifest = Mapping[str, Any]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Bundle:
    objects: tuple[Manifest, ...]

    @classmethod
    def of(cls, objects: Iterable[Manifest]) -> Bundle:
        """A bundle of the objects, sorted by resource key (the order never changes the digest)."""
        return cls(tuple(sorted(objects, key=lambda o: str(ResourceKey.of(o)))))

    @property
    def keys(self) -> tuple[ResourceKey, ...]:
        return tuple(ResourceKey.of(o) for o in self.objects)

    def canonical(self) -> bytes:
        return canonical_json(list(self.objects))

    @property
    def digest(self) -> Digest:
        return Digest(hashlib.sha256(self.canonical()).hexdigest())

    @classmethod
    def from_canonical(cls, data: bytes) -> Bundle:
        return cls(tuple(json.loads(data)))
