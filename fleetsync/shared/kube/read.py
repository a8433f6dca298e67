"""Reading the live objects of an application's targets, cheaply.

`read_live` reads them with one LIST per kind of the application's labelled objects: in the one
namespace the kind's targets share, else in every namespace (or, when the credentials may not
list in every namespace, one LIST per namespace). Then a GET for each target no list showed: not
created yet, existing without the application's labels (applied by hand, by another tool or by an
older fleetsync), or in a namespace the credentials may not list.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient, Forbidden, RequestRejected
from fleetsync.shared.kube.health import NO_FACTS, ClusterFacts, needs_facts
from fleetsync.shared.kube.ownership import APPLICATION_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.kube.read_ahead import Read
from fleetsync.shared.kube.targets import Target
from fleetsync.shared.model import ResourceKey

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"


def read_live(
    client: ClusterClient,
    targets: Sequence[Target],
    *,
    known: Mapping[ResourceKey, Manifest | None] | None = None,
) -> dict[ResourceKey, Manifest | None]:
    """The live objects of `targets` (None: not there), those in `known` as they are there."""
    live: dict[ResourceKey, Manifest | None] = {}
    by_resource: dict[ApiResource, list[Target]] = defaultdict(list)
    for target in targets:
        if known is not None and target.key in known:
            live[target.key] = known[target.key]
        else:
            by_resource[target.resource].append(target)
    unseen: list[Target] = []
    for resource, group in by_resource.items():
        listed = _list_managed(
            client, resource, sorted({t.key.namespace for t in group}), _selector(group)
        )
        index = {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])): o
            for o in listed
        }
        for target in group:
            found = index.get((target.key.namespace, target.key.name))
            if found is None:
                unseen.append(target)
            else:
                live[target.key] = found
    for target in unseen:
        live[target.key] = get_live(client, target)
    return live


def first_lists(targets: Sequence[Target]) -> list[Read]:
    """The LIST per kind `read_live` sends first for `targets` (see `kube/read_ahead.py`)."""
    by_resource: dict[ApiResource, list[Target]] = defaultdict(list)
    for target in targets:
        by_resource[target.resource].append(target)
    reads = []
    for resource, group in by_resource.items():
        namespaces = {t.key.namespace for t in group}
        scope = namespaces.pop() if len(namespaces) == 1 else ""
        reads.append(Read(resource, scope, selector=_selector(group)))
    return reads


def _selector(targets: Sequence[Target]) -> str:
    """The label selector of the targets' application (all of one application, as marked)."""
    apps = {
        ((t.obj.get("metadata") or {}).get("labels") or {}).get(APPLICATION_LABEL) for t in targets
    }
    if len(apps) == 1 and (app := apps.pop()):
        return f"{MANAGED_SELECTOR},{APPLICATION_LABEL}={app}"
    return MANAGED_SELECTOR


def _list_managed(
    client: ClusterClient, resource: ApiResource, namespaces: Sequence[str], selector: str
) -> list[Manifest]:
    """fleetsync-labelled objects of one kind in `namespaces` ([""]: a cluster-scoped kind): one
    request, or one per namespace when the credentials may not list in every namespace; what
    they may not list at all is left out (its objects are then read one by one)."""
    if len(namespaces) == 1:
        return _list_in(client, resource, namespaces[0], selector)
    try:
        return client.list(resource, namespace="", label_selector=selector)
    except Forbidden:
        return [o for ns in namespaces for o in _list_in(client, resource, ns, selector)]


def _list_in(
    client: ClusterClient, resource: ApiResource, namespace: str, selector: str
) -> list[Manifest]:
    try:
        return client.list(resource, namespace=namespace, label_selector=selector)
    except Forbidden:
        log.debug("%s: may not list %s in %s", client.name, resource.plural, namespace or "*")
        return []


def get_live(client: ClusterClient, target: Target) -> Manifest | None:
    metadata = target.obj["metadata"]
    return client.get(
        target.resource, name=metadata["name"], namespace=str(metadata.get("namespace") or "")
    )


STORAGE_CLASSES = ApiResource(
    group="storage.k8s.io",
    version="v1",
    kind="StorageClass",
    plural="storageclasses",
    namespaced=False,
)
_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def read_facts(client: ClusterClient, objects: Iterable[Manifest | None]) -> ClusterFacts:
    """What health verdicts on `objects` need to know of the cluster (one LIST of storage
    classes, only when a claim is not bound yet); nothing when the cluster will not say."""
    if not needs_facts(objects):
        return NO_FACTS
    try:
        classes = client.list(STORAGE_CLASSES)
    except (Forbidden, RequestRejected) as e:
        log.info("cluster %s: storage classes unreadable (%s); claims judged alone", client.name, e)
        return NO_FACTS
    waiting = frozenset(
        str(c["metadata"]["name"])
        for c in classes
        if c.get("volumeBindingMode") == "WaitForFirstConsumer"
    )
    default = next(
        (
            str(c["metadata"]["name"])
            for c in classes
            if ((c.get("metadata") or {}).get("annotations") or {}).get(_DEFAULT_CLASS) == "true"
        ),
        None,
    )
    return ClusterFacts(first_consumer_classes=waiting, default_class=default)
