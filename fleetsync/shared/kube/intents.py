"""The mirror of operators' intents in a target cluster: a Secret
`fleetsync-system/fleetsync-intents-<app>` holding the application's intents (suspended, the
rollback pin, when they were set, and in which life of Redis) and, while it is pinned, the
pinned bundle itself (compressed, when it fits), so that a Redis that lost its data can get
back both the pin and what it pins. A Secret, not a ConfigMap: the pinned bundle may hold the
application's own Secrets.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from dataclasses import dataclass

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.inventory import (
    INVENTORY_NAMESPACE,
    ensure_inventory_namespace,
    mirror_name,
)
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import Intents

log = logging.getLogger(__name__)

INTENTS_PREFIX = "fleetsync-intents-"
INTENTS_KEY = "intents.json"
BUNDLE_KEY = "bundle.zz"
MAX_MIRRORED_BUNDLE = 700 * 1024
"""Compressed bytes of a pinned bundle kept in the mirror (a Secret holds at most 1 MiB, base64
makes it a third bigger); a bigger one is left out, and a pin restored without its bundle holds
the cluster where it is until the bundle is rendered again."""

_SECRET = ApiResource(group="", version="v1", kind="Secret", plural="secrets", namespaced=True)


@dataclass(frozen=True, slots=True)
class MirroredIntents:
    epoch: str
    intents: Intents
    bundle: Bundle | None
    """The pinned bundle, when the mirror holds it and it is the pin's."""


def read_intents(client: ClusterClient, app: str) -> MirroredIntents | None:
    """The cluster's mirror of the application's intents; None when it has none (or an
    unreadable one, logged)."""
    live = client.get(_SECRET, name=intents_name(app), namespace=INVENTORY_NAMESPACE)
    if live is None:
        return None
    data = live.get("data") or {}
    try:
        body = json.loads(base64.b64decode(data[INTENTS_KEY]))
        intents = Intents.from_json(body)
        epoch = str(body["epoch"])
    except (KeyError, ValueError, TypeError) as e:
        log.warning(
            "%s on cluster %s is not a fleetsync mirror (%s)", intents_name(app), client.name, e
        )
        return None
    bundle = None
    if intents.pin is not None and BUNDLE_KEY in data:
        try:
            bundle = Bundle.from_canonical(zlib.decompress(base64.b64decode(data[BUNDLE_KEY])))
        except (ValueError, zlib.error) as e:
            log.warning(
                "%s on cluster %s: pinned bundle unreadable (%s)", intents_name(app), client.name, e
            )
        if bundle is not None and bundle.digest != intents.pin.digest:
            bundle = None
    return MirroredIntents(epoch=epoch, intents=intents, bundle=bundle)


def write_intents(
    client: ClusterClient, app: str, *, epoch: str, intents: Intents, bundle: Bundle | None
) -> None:
    """Store the mirror (server-side apply, fleetsync-system created if needed); `bundle` is
    kept only when it is the pin's and fits."""
    ensure_inventory_namespace(client)
    body = {"epoch": epoch, **intents.to_json()}
    data = {INTENTS_KEY: _b64(json.dumps(body, sort_keys=True).encode())}
    if intents.pin is not None and bundle is not None and bundle.digest == intents.pin.digest:
        packed = zlib.compress(bundle.canonical(), 6)
        if len(packed) <= MAX_MIRRORED_BUNDLE:
            data[BUNDLE_KEY] = _b64(packed)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": intents_name(app),
            "namespace": INVENTORY_NAMESPACE,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "annotations": {APPLICATION_ANNOTATION: app},
        },
        "data": data,
    }
    client.apply(_SECRET, secret, force=True)


def intents_name(app: str) -> str:
    return mirror_name(app, prefix=INTENTS_PREFIX)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
