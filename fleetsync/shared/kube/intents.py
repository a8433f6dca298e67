"""The mirror of operators' intents in a target cluster: a Secret
`fleetsync-system/fleetsync-intents-<app>` holding the application's intents (suspended, the
rollback pin, when they were set, and in which life of Redis), its rollout while one is under way
or was undone (`RolloutSnapshot`: the operator's pause, promotion or abort and where the rollout
stood), and the bundle the pair is held at (a rollback pin's, or what a rollout keeps the cluster
on), so that a Redis that lost its data gets all of them back. A Secret, not a ConfigMap: the
held bundle may hold the application's own Secrets.

The held bundle is compressed and cut in parts of `PART_BYTES` (an object holds at most 1 MiB,
and base64 makes the bytes a third bigger): the first part beside the intents (`bundle.zz`, the
whole bundle when it is small), the others in Secrets `fleetsync-held-<i>-<app>`, each annotated
with the bundle's digest. The parts are written before the intents that name them, and read
back only when every part names the same bundle and the joined, decompressed bundle has the
digest the intents name. At most `MAX_PARTS` parts (`MAX_MIRRORED_BUNDLE` compressed bytes); a
bigger bundle is left out, `write_intents` says so, and a pin restored without its bundle holds
the cluster where it is until the bundle is rendered again.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.inventory import (
    INVENTORY_NAMESPACE,
    ensure_inventory_namespace,
    mirror_name,
)
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import Intents
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot

log = logging.getLogger(__name__)

INTENTS_PREFIX = "fleetsync-intents-"
PART_PREFIX = "fleetsync-held-"
INTENTS_KEY = "intents.json"
ROLLOUT_KEY = "rollout.zz"
BUNDLE_KEY = "bundle.zz"
PART_KEY = "part"
DIGEST_ANNOTATION = "fleetsync.io/bundle-digest"
PART_BYTES = 512 * 1024
"""Compressed bytes of the held bundle per Secret (683 KiB once in base64)."""
MAX_PARTS = 16
MAX_MIRRORED_BUNDLE = PART_BYTES * MAX_PARTS
"""Compressed bytes of a held bundle the mirror keeps at most (8 MiB)."""
MAX_MIRRORED_ROLLOUT = 256 * 1024
"""Compressed bytes of a rollout the mirror keeps at most (its plan and what each cluster ran
before, for thousands of clusters)."""

_SECRET = ApiResource(group="", version="v1", kind="Secret", plural="secrets", namespaced=True)


@dataclass(frozen=True, slots=True)
class MirroredIntents:
    epoch: str
    intents: Intents
    bundle: Bundle | None
    """The bundle the pair was held at, when the mirror holds all of it, intact."""
    rollout: RolloutSnapshot | None = None
    parts: int = 0
    """How many Secrets the held bundle was cut in (0: none mirrored)."""


def read_intents(client: ClusterClient, app: str) -> MirroredIntents | None:
    """The cluster's mirror of the application's intents; None when it has none (or an
    unreadable one, logged)."""
    name = intents_name(app)
    live = client.get(_SECRET, name=name, namespace=INVENTORY_NAMESPACE)
    if live is None:
        return None
    data = live.get("data") or {}
    try:
        body = json.loads(base64.b64decode(data[INTENTS_KEY]))
        intents = Intents.from_json(body)
        epoch = str(body["epoch"])
    except (KeyError, ValueError, TypeError) as e:
        log.warning("%s on cluster %s is not a fleetsync mirror (%s)", name, client.name, e)
        return None
    rollout = None
    if ROLLOUT_KEY in data:
        try:
            raw = zlib.decompress(base64.b64decode(data[ROLLOUT_KEY]))
            rollout = RolloutSnapshot.from_json(json.loads(raw))
        except (ValueError, TypeError, zlib.error) as e:
            log.warning("%s on cluster %s: rollout unreadable (%s)", name, client.name, e)
    held = body.get("held") or (intents.pin.digest if intents.pin else None)
    parts = int(body.get("parts") or (1 if BUNDLE_KEY in data else 0))
    bundle = None
    if held and parts:
        bundle = _read_bundle(client, app, data, held=str(held), parts=parts)
    return MirroredIntents(
        epoch=epoch, intents=intents, bundle=bundle, rollout=rollout, parts=parts
    )


def _read_bundle(
    client: ClusterClient, app: str, data: dict[str, Any], *, held: str, parts: int
) -> Bundle | None:
    """The held bundle from its parts, or None (logged) when one is missing, belongs to another
    bundle, or the whole does not have the digest `held`."""
    where = f"{intents_name(app)} on cluster {client.name}"
    try:
        chunks = [base64.b64decode(data[BUNDLE_KEY])]
        for index in range(1, min(parts, MAX_PARTS)):
            part = client.get(_SECRET, name=part_name(app, index), namespace=INVENTORY_NAMESPACE)
            annotations = ((part or {}).get("metadata") or {}).get("annotations") or {}
            if part is None or annotations.get(DIGEST_ANNOTATION) != held:
                log.warning("%s: part %d of the held bundle is missing or stale", where, index)
                return None
            chunks.append(base64.b64decode((part.get("data") or {})[PART_KEY]))
        bundle = Bundle.from_canonical(zlib.decompress(b"".join(chunks)))
    except (KeyError, ValueError, TypeError, zlib.error) as e:
        log.warning("%s: held bundle unreadable (%s)", where, e)
        return None
    if bundle.digest != held:
        log.warning("%s: held bundle's digest is not %s; left out", where, held[:12])
        return None
    return bundle


def write_intents(
    client: ClusterClient,
    app: str,
    *,
    epoch: str,
    intents: Intents,
    bundle: Bundle | None,
    rollout: RolloutSnapshot | None = None,
    had_parts: int = 0,
) -> str | None:
    """Store the mirror (server-side apply, fleetsync-system created if needed): the intents,
    `rollout`, and `bundle` (the one the pair is held at) in parts when it fits; Secrets of
    parts beyond the new count, up to `had_parts`, are deleted. Returns why something was left
    out (a bundle or rollout over its bound), or None."""
    ensure_inventory_namespace(client)
    left_out = None
    body: dict[str, Any] = {"epoch": epoch, **intents.to_json()}
    data: dict[str, str] = {}
    chunks: list[bytes] = []
    if bundle is not None:
        packed = zlib.compress(bundle.canonical(), 6)
        if len(packed) <= MAX_MIRRORED_BUNDLE:
            chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)]
            body.update(held=bundle.digest, parts=len(chunks))
            data[BUNDLE_KEY] = _b64(chunks[0])
        else:
            left_out = (
                f"the held bundle ({_mib(len(packed))} compressed) is over the "
                f"{_mib(MAX_MIRRORED_BUNDLE)} the cluster's mirror keeps: a loss of Redis's "
                "data would keep the cluster where it is until the bundle is rendered again"
            )
    if rollout is not None:
        packed = zlib.compress(json.dumps(rollout.to_json(), sort_keys=True).encode(), 6)
        if len(packed) <= MAX_MIRRORED_ROLLOUT:
            data[ROLLOUT_KEY] = _b64(packed)
        else:
            left_out = (
                f"the rollout ({_mib(len(packed))} compressed) is over the "
                f"{_mib(MAX_MIRRORED_ROLLOUT)} the cluster's mirror keeps"
            )
    if left_out is not None:
        log.warning("%s on cluster %s: not mirrored: %s", app, client.name, left_out)
    data[INTENTS_KEY] = _b64(json.dumps(body, sort_keys=True).encode())
    held = {DIGEST_ANNOTATION: bundle.digest} if bundle is not None else {}
    for index, chunk in enumerate(chunks[1:], start=1):
        part = _secret(part_name(app, index), app, {PART_KEY: _b64(chunk)}, held)
        client.apply(_SECRET, part, force=True)
    client.apply(_SECRET, _secret(intents_name(app), app, data, {}), force=True)
    for index in range(max(len(chunks), 1), min(had_parts, MAX_PARTS)):
        client.delete(_SECRET, name=part_name(app, index), namespace=INVENTORY_NAMESPACE)
    return left_out


def _secret(name: str, app: str, data: Mapping[str, str], annotations: Mapping[str, str]) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": INVENTORY_NAMESPACE,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "annotations": {APPLICATION_ANNOTATION: app, **annotations},
        },
        "data": data,
    }


def intents_name(app: str) -> str:
    return mirror_name(app, prefix=INTENTS_PREFIX)


def part_name(app: str, index: int) -> str:
    """The Secret of the held bundle's part `index` (from 1; part 0 is beside the intents)."""
    return mirror_name(app, prefix=f"{PART_PREFIX}{index}-")


def _mib(n: int) -> str:
    """`8.0 MiB`, `256 KiB`: the size in the unit that shows it without rounding it away."""
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
