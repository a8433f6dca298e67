"""One cluster's reads shared by a batch of reconciles on it: one LIST per kind for all of them.

When one commit changes many applications on the same cluster, each application's sync would
list its own labelled objects of every kind, read its inventory copy and the namespaces it uses.
`SharedReads` is a `ClusterClient` for one batch (one thread, one task: never shared between
threads): a LIST by a selector whose first term is fleetsync's managed-by label is answered from
one LIST of every fleetsync object of that kind in that scope, filtered here by the other terms
(equality terms only; any other selector goes to the server); a GET is answered from what was
read before, or from a namespace read whole (`read_whole`: the inventory copies in
fleetsync-system). Every write the batch makes goes to the server and into what it holds, so a
later sync of the batch sees it as the server has it. Dry runs change nothing held.

It uses the shared client's connection (its thin path's pool) and discovery.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient, Forbidden, SharingClient
from fleetsync.shared.kube.inventory import INVENTORY_CONFIGMAPS, INVENTORY_NAMESPACE

Manifest = Mapping[str, Any]
_Kind = tuple[str, str]
"""(group, plural)"""
_Buckets = dict[str | None, dict[tuple[str, str], Manifest]]
"""A label's value (None: the object has no such label) -> the objects that carry it."""


def _kind(resource: ApiResource) -> _Kind:
    return resource.group, resource.plural


def _terms(selector: str) -> list[tuple[str, str]] | None:
    """The selector's `key=value` terms, or None when it has another kind of term."""
    terms = []
    for term in selector.split(","):
        key, eq, value = term.partition("=")
        if not eq or not key or key.endswith("!") or value.startswith("="):
            return None
        terms.append((key.strip(), value.strip()))
    return terms


def _where(obj: Manifest) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _labels(obj: Manifest) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def share_reads(client: ClusterClient) -> SharedReads:
    """A batch's client on `client`'s connection, the inventory copies read whole at once."""
    shared = SharedReads(client)
    # Credentials that may not list there: each copy is read by itself.
    with contextlib.suppress(Forbidden):
        shared.read_whole(INVENTORY_CONFIGMAPS, INVENTORY_NAMESPACE)
    return shared


class SharedReads(SharingClient):
    def __init__(self, shared: ClusterClient) -> None:
        super().__init__(shared)
        self._listed: dict[tuple[_Kind, str, str], dict[tuple[str, str], Manifest]] = {}
        """(kind, namespace, base term) -> every object that LIST returned, by (ns, name)."""
        self._by_label: dict[tuple[_Kind, str, str], dict[str, _Buckets]] = {}
        """The same objects by the value of one more label (the application's: each sync of
        the batch lists its own, and filtering every object of the cluster for each of them
        would cost the square of the applications), built when a list first asks for it."""
        self._got: dict[tuple[_Kind, str, str], Manifest | None] = {}
        self._whole: set[tuple[_Kind, str]] = set()
        self.requests_saved = 0

    def read_whole(self, resource: ApiResource, namespace: str) -> None:
        """Read every object of a kind in `namespace` once: later GETs there are answered
        from it (None for a name it did not hold)."""
        for obj in super().list(resource, namespace=namespace):
            self._got[(_kind(resource), *_where(obj))] = obj
        self._whole.add((_kind(resource), namespace))

    def get(self, resource: ApiResource, *, name: str, namespace: str = "") -> Manifest | None:
        key = (_kind(resource), namespace if resource.namespaced else "", name)
        if key in self._got:
            self.requests_saved += 1
            return self._got[key]
        if (_kind(resource), key[1]) in self._whole:
            self.requests_saved += 1
            return None
        found = super().get(resource, name=name, namespace=namespace)
        self._got[key] = found
        return found

    def list(
        self, resource: ApiResource, *, namespace: str = "", label_selector: str = ""
    ) -> list[Manifest]:
        terms = _terms(label_selector) if label_selector else None
        if not terms:
            return super().list(resource, namespace=namespace, label_selector=label_selector)
        base = f"{terms[0][0]}={terms[0][1]}"
        scope = (_kind(resource), namespace, base)
        held = self._listed.get(scope)
        if held is None:
            listed = super().list(resource, namespace=namespace, label_selector=base)
            held = self._listed[scope] = {_where(o): o for o in listed}
        else:
            self.requests_saved += 1
        if len(terms) == 1:
            return list(held.values())
        (key, value), rest = terms[1], terms[2:]
        indexed = self._by_label.setdefault(scope, {})
        buckets = indexed.get(key)
        if buckets is None:
            buckets = indexed[key] = {}
            for where, obj in held.items():
                buckets.setdefault(_labels(obj).get(key), {})[where] = obj
        found = buckets.get(value, {})
        return [o for o in found.values() if all(_labels(o).get(k) == v for k, v in rest)]

    def apply(
        self, resource: ApiResource, obj: Manifest, *, force: bool, dry_run: bool = False
    ) -> Manifest:
        result = super().apply(resource, obj, force=force, dry_run=dry_run)
        if not dry_run:
            self._hold(resource, result)
        return result

    def create(self, resource: ApiResource, obj: Manifest) -> Manifest:
        result = super().create(resource, obj)
        self._hold(resource, result)
        return result

    def delete(
        self,
        resource: ApiResource,
        *,
        name: str,
        namespace: str = "",
        propagation: str = "Background",
    ) -> bool:
        gone = super().delete(resource, name=name, namespace=namespace, propagation=propagation)
        self._forget(resource, namespace if resource.namespaced else "", name)
        return gone

    def _hold(self, resource: ApiResource, obj: Manifest) -> None:
        """What the server answered a write with is what later reads of the batch see."""
        where = _where(obj)
        self._got[(_kind(resource), *where)] = obj
        labels = _labels(obj)
        for scope, held in self._listed.items():
            kind, namespace, base = scope
            if kind != _kind(resource) or namespace not in ("", where[0]):
                continue
            key, _, value = base.partition("=")
            before = held.get(where)
            if labels.get(key) == value:
                held[where] = obj
                self._reindex(scope, where, before, obj)
            else:
                held.pop(where, None)
                self._reindex(scope, where, before, None)

    def _forget(self, resource: ApiResource, namespace: str, name: str) -> None:
        """A deleted object may linger (finalizers): ask the server again."""
        self._got.pop((_kind(resource), namespace, name), None)
        self._whole.discard((_kind(resource), namespace))
        for listed, held in self._listed.items():
            kind, scope, _ = listed
            if kind == _kind(resource) and scope in ("", namespace):
                self._reindex(listed, (namespace, name), held.pop((namespace, name), None), None)

    def _reindex(
        self,
        scope: tuple[_Kind, str, str],
        where: tuple[str, str],
        before: Manifest | None,
        after: Manifest | None,
    ) -> None:
        """Keep the label indexes of `scope` as what it holds at `where` went from `before` to
        `after` (None: not held)."""
        for key, buckets in self._by_label.get(scope, {}).items():
            old = _labels(before).get(key) if before is not None else None
            new = _labels(after).get(key) if after is not None else None
            if before is not None and (after is None or old != new):
                buckets.get(old, {}).pop(where, None)
            if after is not None:
                buckets.setdefault(new, {})[where] = after
