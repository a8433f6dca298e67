"""ResourceQuota: object counts tracked and enforced as the real server's quota admission and
quota controller do.

A quota's `status` holds its `hard` limits and what is `used` of each countable one: object
counts (`count/<resource>[.<group>]`, and the core names `pods`, `services`, `secrets`,
`configmaps`, `persistentvolumeclaims`, `replicationcontrollers`, `resourcequotas`,
`services.loadbalancers`, `services.nodeports`). `watch` keeps every quota's status current on
each change in its namespace (a real controller does it moments later, admission at once on a
create); `admit` refuses a create that would go beyond a limit with the server's 403. Compute
resources (`requests.cpu`, `limits.memory` ...) are not counted (no pod runs here), and scopes
are not applied, only checked against the resources they may scope (`spec_causes`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.cluster import Cluster
from kubesim.errors import ApiError, Cause, forbidden
from kubesim.quantity import quantity_amount
from kubesim.store import EventType, StoreEvent

QUOTA_KEY = ("", "resourcequotas")
LEGACY = frozenset(
    {
        "pods",
        "services",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
    }
)
"""Core resources whose count a quota may also name without `count/`."""


def counted_names(group: str, resource: str, obj: Mapping[str, Any]) -> list[str]:
    """The quota names one object of this type counts against."""
    names = [f"count/{resource}.{group}" if group else f"count/{resource}"]
    if not group and resource in LEGACY:
        names.append(resource)
    if (group, resource) == ("", "services"):
        kind = (obj.get("spec") or {}).get("type")
        if kind == "LoadBalancer":
            names.append("services.loadbalancers")
        if kind in ("LoadBalancer", "NodePort"):
            names.append("services.nodeports")
    return names


def _type_of(name: str) -> tuple[str, str] | None:
    """The (group, resource) whose objects a quota name counts (None: not a count)."""
    if name.startswith("count/"):
        resource, _, group = name[len("count/") :].partition(".")
        return group, resource
    if name in LEGACY:
        return "", name
    if name in ("services.loadbalancers", "services.nodeports"):
        return "", "services"
    return None


def _used(cluster: Cluster, namespace: str, name: str) -> int | None:
    key = _type_of(name)
    if key is None:
        return None
    return sum(
        1
        for obj in cluster.store.list(key, namespace)
        if name in counted_names(key[0], key[1], obj)
    )


def _hard(quota: Mapping[str, Any]) -> dict[str, Any]:
    return dict((quota.get("spec") or {}).get("hard") or {})


def current_status(cluster: Cluster, quota: Mapping[str, Any]) -> dict[str, Any]:
    """A quota's status as its controller writes it: hard limits, and the counts used."""
    namespace = quota["metadata"].get("namespace", "")
    hard = _hard(quota)
    used = {
        name: str(n) for name in sorted(hard) if (n := _used(cluster, namespace, name)) is not None
    }
    return {"hard": hard, "used": used} if hard else {}


def refresh(cluster: Cluster, rtype: ResourceType, namespace: str) -> None:
    """Bring every quota of a namespace up to date (a no-op write stores nothing)."""
    for quota in cluster.store.list(QUOTA_KEY, namespace):
        if quota["metadata"].get("deletionTimestamp"):
            continue
        status = current_status(cluster, quota)
        if status != quota.get("status"):
            cluster.commit(
                rtype,
                quota,
                {**quota, "metadata": dict(quota["metadata"]), "status": status},
                dry_run=False,
            )


def watch(cluster: Cluster) -> Callable[[StoreEvent], None]:
    """A store listener keeping the quotas of each namespace with a change current."""

    def on_event(event: StoreEvent) -> None:
        if not event.namespace or not cluster.store.list(QUOTA_KEY, event.namespace):
            return
        if event.type_key != QUOTA_KEY and event.type is EventType.MODIFIED:
            return  # counts move on creates and deletes only (and a Service's type aside)
        quota_type = cluster.types.by_key(*QUOTA_KEY)
        if quota_type is not None:
            refresh(cluster, quota_type, event.namespace)

    return on_event


def _pretty(values: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def admit(cluster: Cluster, rtype: ResourceType, obj: Mapping[str, Any]) -> None:
    """Refuse a create beyond a quota of its namespace with the server's 403."""
    namespace = obj["metadata"].get("namespace") or ""
    if not namespace or not rtype.namespaced:
        return
    names = counted_names(rtype.group, rtype.resource, obj)
    for quota in sorted(
        cluster.store.list(QUOTA_KEY, namespace), key=lambda q: q["metadata"]["name"]
    ):
        hard = _hard(quota)
        over = {}
        for name in names:
            if name not in hard:
                continue
            used = _used(cluster, namespace, name) or 0
            if used + 1 > _count(hard[name]):
                over[name] = used
        if over:
            raise _exceeded(rtype, obj, quota["metadata"]["name"], over, hard)


def _count(value: Any) -> Decimal:
    amount = quantity_amount(value)
    return amount if amount is not None else Decimal("Infinity")


def _exceeded(
    rtype: ResourceType,
    obj: Mapping[str, Any],
    quota: str,
    over: Mapping[str, int],
    hard: Mapping[str, Any],
) -> ApiError:
    name = str(obj["metadata"].get("name", ""))
    qualified = f"{rtype.resource}.{rtype.group}" if rtype.group else rtype.resource
    return forbidden(
        f'{qualified} "{name}" is forbidden: exceeded quota: {quota}, requested: '
        f"{_pretty(dict.fromkeys(over, 1))}, used: {_pretty(over)}, limited: "
        f"{_pretty({k: hard[k] for k in over})}",
        name=name,
        kind=rtype.resource,
        group=rtype.group,
    )


POD_COUNT = frozenset({"pods"})
POD_COMPUTE = frozenset(
    {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)
POD_SCOPES = frozenset(
    {"Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"}
)


def _scope_fits(scope: str, resource: str) -> bool:
    if scope in POD_SCOPES:
        return resource in POD_COUNT or resource in POD_COMPUTE
    if scope == "BestEffort":
        return resource in POD_COUNT
    return True


STANDARD_SCOPES = POD_SCOPES | {"BestEffort"}
STANDARD_NAMES = (
    POD_COUNT
    | POD_COMPUTE
    | LEGACY
    | {
        "ephemeral-storage",
        "requests.ephemeral-storage",
        "limits.ephemeral-storage",
        "requests.storage",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
"""Quota names the server's scope check looks at (`count/...` names it does not)."""
CONFLICTING = (("BestEffort", "NotBestEffort"), ("NotTerminating", "Terminating"))


def spec_causes(rtype: ResourceType, obj: Mapping[str, Any]) -> list[Cause]:
    """A quota's scopes checked as the server checks them: each known, each fitting every
    standard resource it limits, no two in conflict (one cause per failure, in its order)."""
    if (rtype.group, rtype.kind) != ("", "ResourceQuota") or rtype.schema is None:
        return []
    spec = obj.get("spec") or {}
    scopes = [str(s) for s in spec.get("scopes") or ()]
    if not scopes:
        return []
    rendered = "[]core.ResourceQuotaScope{" + ", ".join(json.dumps(s) for s in scopes) + "}"
    problems = []
    for scope in scopes:
        if scope not in STANDARD_SCOPES:
            problems.append("unsupported scope")
        problems += [
            "unsupported scope applied to resource"
            for resource in sorted(str(r) for r in spec.get("hard") or {})
            if resource in STANDARD_NAMES and not _scope_fits(scope, resource)
        ]
    problems += ["conflicting scopes" for pair in CONFLICTING if set(pair) <= set(scopes)]
    return [
        Cause("FieldValueInvalid", f"Invalid value: {rendered}: {problem}", "spec.scopes")
        for problem in problems
    ]
