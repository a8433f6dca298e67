"""Immutable fields: recognising the server's refusal, and replacing the object when asked to.

An update that changes an immutable field (a Deployment's selector, a Job's template, a Service's
clusterIP, an immutable ConfigMap's data, a StatefulSet's volumeClaimTemplates, a RoleBinding's
roleRef...) is refused with 422 Invalid, one cause per field. `immutable_fields` reads the causes:
only when every cause is an immutability refusal is the rest of the object valid (the server
validates the whole update at once), so that recreating it can succeed.

Without `sync.replace: onImmutable` the sync fails on that object, saying which fields cannot
change and what to do (`immutable_message`). With it, `replace_object` deletes the live object with
foreground propagation (its dependents, such as a Deployment's ReplicaSets and Pods, go first, so
nothing of the old object lingers), waits until it is gone, and applies the manifest anew: just
that object, nothing else of the application. A delete refused (RBAC without the delete verb
included) fails that object only, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fleetsync.shared.kube.client import (
    ApiResource,
    ClusterClient,
    ObjectForbidden,
    RequestRejected,
)
from fleetsync.shared.kube.wait import wait_gone
from fleetsync.shared.model import ResourceKey

Manifest = Mapping[str, Any]

IMMUTABLE = re.compile(
    r"immutable|may not change|cannot change|may not be changed|updates to .* are forbidden",
    re.IGNORECASE,
)
"""What the API server says of a field an update may not change."""


def immutable_fields(e: RequestRejected) -> tuple[str, ...]:
    """The fields an update may not change, when that is all the server refuses (else ())."""
    if e.code != 422 or not e.causes:
        return ()
    if not all(IMMUTABLE.search(c.message) for c in e.causes):
        return ()
    return tuple(dict.fromkeys(c.field or "(the object)" for c in e.causes))


def immutable_message(fields: tuple[str, ...], e: RequestRejected) -> str:
    return (
        f"{', '.join(fields)}: cannot be changed in place ({e}); set sync.replace: onImmutable "
        "to let fleetsync delete and recreate the object, or recreate it by hand"
    )


def replace_object(
    client: ClusterClient,
    key: ResourceKey,
    resource: ApiResource,
    obj: Manifest,
    *,
    force: bool,
    timeout: float,
    live: Manifest | None = None,
) -> tuple[str | None, Manifest | None]:
    """Delete the live object (foreground), wait until it is gone, apply `obj` anew.

    Returns (None, the new object), or (what went wrong, the object as last seen: `live` when
    RBAC forbade the delete, so that it stays in place and is seen as it is)."""
    metadata = obj["metadata"]
    namespace = str(metadata.get("namespace") or "")
    try:
        client.delete(
            resource, name=metadata["name"], namespace=namespace, propagation="Foreground"
        )
    except ObjectForbidden as e:
        return f"replace failed: delete: {e}", live
    except RequestRejected as e:
        return f"replace failed: delete: {e}", None
    waited = wait_gone(client, (key, resource, obj), timeout=timeout)
    if waited.problem is not None:
        return f"replace failed: deleted, then {waited.problem[1]}", waited.seen.get(key)
    try:
        return None, client.apply(resource, obj, force=force)
    except ObjectForbidden as e:
        return f"replace failed: deleted, then recreating it was {e.refusal()}", None
    except RequestRejected as e:
        return f"replace failed: deleted, then recreating it failed: {e}", None
