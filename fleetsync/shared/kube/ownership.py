"""How fleetsync marks the objects it applies, and reads those marks back.

fleetsync applies as the field manager `fleetsync` (`FIELD_MANAGER`): its entry in an object's
`metadata.managedFields` is what the no-op prediction reads.
Every applied object carries the labels `app.kubernetes.io/managed-by: fleetsync` and
`fleetsync.io/application: <app>` (application names are DNS labels, so valid label values: the
engine lists an application's objects by both, and a check of one application reads only its
own objects, not every fleetsync object of the kind), and the annotation
`fleetsync.io/application: <app>`. The annotation is the ownership rule: an object
whose annotation names another application is a conflict for this one (never taken over, never
pruned by it), and prune deletes only objects whose annotation names the pruning application. The
prune opt-outs are the annotations `fleetsync.io/prune: disabled` and Argo CD's
`argocd.argoproj.io/sync-options: Prune=false`.

Pure: mappings in, mappings out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

Manifest = Mapping[str, Any]

RECORDS_NAMESPACE = "fleetsync-system"
"""Where fleetsync keeps its own records in a cluster: its claim, inventory copies, intents."""
FIELD_MANAGER = "fleetsync"
"""The field manager of every server-side apply fleetsync makes."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "fleetsync"
APPLICATION_ANNOTATION = "fleetsync.io/application"
APPLICATION_LABEL = "fleetsync.io/application"
PRUNE_ANNOTATION = "fleetsync.io/prune"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


def annotations_of(obj: Manifest) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def mark_managed(obj: Manifest, *, app: str, namespace: str | None) -> dict[str, Any]:
    """A copy of `obj` carrying fleetsync's label and annotation, in `namespace` when given.

    `namespace` is what the object should be applied in: None for a cluster-scoped kind (any
    namespace the manifest names is dropped), otherwise the manifest's own or the default.
    """
    marked: dict[str, Any] = copy.deepcopy(dict(obj))
    metadata = marked.setdefault("metadata", {})
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        MANAGED_BY_LABEL: MANAGED_BY,
        APPLICATION_LABEL: app,
    }
    metadata["annotations"] = {**(metadata.get("annotations") or {}), APPLICATION_ANNOTATION: app}
    if namespace is None:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    return marked


def owner_of(obj: Manifest) -> str | None:
    """The fleetsync application named by the object's annotation, if any."""
    owner = annotations_of(obj).get(APPLICATION_ANNOTATION)
    return str(owner) if owner else None


def prune_disabled(obj: Manifest) -> bool:
    annotations = annotations_of(obj)
    if str(annotations.get(PRUNE_ANNOTATION)).strip().lower() == "disabled":
        return True
    options = str(annotations.get(ARGO_SYNC_OPTIONS))  # a missing annotation reads "None"
    return any(o.strip() == "Prune=false" for o in options.split(","))
