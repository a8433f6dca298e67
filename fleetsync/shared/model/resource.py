"""Identity of a Kubernetes object: `group/Kind/namespace/name`.

The core group prints as `core` and a cluster-scoped object's namespace as `_`, so every key has
four non-empty segments and parses back unambiguously.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CORE_GROUP = "core"
CLUSTER_SCOPE = "_"


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return "/".join(
            (self.group or CORE_GROUP, self.kind, self.namespace or CLUSTER_SCOPE, self.name)
        )

    @classmethod
    def parse(cls, text: str) -> ResourceKey:
        parts = text.split("/")
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"{text!r}: not a resource key; expected group/Kind/namespace/name")
        group, kind, namespace, name = parts
        return cls(
            group="" if group == CORE_GROUP else group,
            kind=kind,
            namespace="" if namespace == CLUSTER_SCOPE else namespace,
            name=name,
        )

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        """The key of a manifest that has apiVersion, kind and metadata.name (a hook created
        with metadata.generateName is known by that prefix until it exists)."""
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        found = obj.get("metadata")
        metadata: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return cls(
            group=group,
            kind=str(obj.get("kind", "")),
            namespace=str(metadata.get("namespace") or ""),
            name=str(metadata.get("name") or metadata.get("generateName") or ""),
        )
