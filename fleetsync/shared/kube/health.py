"""Health of live objects: rules as a table, an application's health as the worst of its objects.

`RULES` maps a (group, kind) to a function of the live object returning (Health, message). Kinds
without a rule fall back to the standard status conditions (`Ready`, then `Available`, with kstatus'
`Stalled`/`Reconciling` and `status.observedGeneration`), and an object with none of those is
Healthy once it exists. A missing object (None) is Missing; an object being deleted is Progressing.
Every rule reads what controllers write: generation vs observedGeneration first (a status written
for an older spec says nothing about the current one), then replica counts, then conditions.

What an object alone cannot tell comes as `ClusterFacts` (read by the caller): a
PersistentVolumeClaim Pending on a storage class that binds on first use (WaitForFirstConsumer)
is Healthy, as Argo CD says, since nothing binds it before a Pod uses it.

`describe_unhealthy` is what a pair's message says about health: the objects that make it
Degraded or Progressing, worst first (`apps/Deployment/web/api: Progressing (1 of 3 replicas
available)`), never only counts.

Pure: live objects in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.plan import group_kind
from fleetsync.shared.model import Health, ResourceKey

Manifest = Mapping[str, Any]
Verdict = tuple[Health, str]
Rule = Callable[[Manifest], Verdict]

HEALTHY: Verdict = (Health.HEALTHY, "")

_WAITING_DEGRADED = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
_PROGRESSING_REASONS = frozenset(
    {"Progressing", "Reconciling", "Pending", "InProgress", "Creating", "Updating", "Provisioning"}
)


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What some verdicts need to know of the cluster besides the object itself."""

    first_consumer_classes: frozenset[str] = frozenset()
    """Storage classes whose volumeBindingMode is WaitForFirstConsumer."""
    default_class: str | None = None
    """The default storage class (annotated is-default-class), if any."""


NO_FACTS = ClusterFacts()


@dataclass(frozen=True, slots=True)
class ObjectHealth:
    key: ResourceKey
    health: Health
    message: str = ""

    def __str__(self) -> str:
        """`apps/Deployment/web/api: Progressing (1 of 3 replicas available)`."""
        return f"{self.key}: {self.health}" + (f" ({self.message})" if self.message else "")


SETTLED = frozenset({Health.HEALTHY, Health.SUSPENDED})
"""Healths that keep nothing waiting: a later wave, a sync hook or Healthy itself."""


# -- helpers -----------------------------------------------------------------------------------


def _spec(obj: Manifest) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Manifest) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _condition(obj: Manifest, kind: str) -> Mapping[str, Any] | None:
    for condition in _status(obj).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def _is(obj: Manifest, kind: str, status: str) -> bool:
    condition = _condition(obj, kind)
    return condition is not None and condition.get("status") == status


def _message(condition: Mapping[str, Any], fallback: str) -> str:
    """What the condition says (its message, else its reason), else `fallback`."""
    text = str(condition.get("message") or condition.get("reason") or "")
    return text or fallback


def _generation_pending(obj: Manifest) -> Verdict | None:
    """Progressing while the controller has not seen the current spec."""
    generation = _int((obj.get("metadata") or {}).get("generation"))
    observed = _int(_status(obj).get("observedGeneration"))
    if generation and observed < generation:
        return (
            Health.PROGRESSING,
            f"waiting for the controller to observe generation {generation} (seen {observed})",
        )
    return None


# -- rules -------------------------------------------------------------------------------------


def deployment(obj: Manifest) -> Verdict:
    if _spec(obj).get("paused"):
        return (Health.SUSPENDED, "deployment is paused")
    if (pending := _generation_pending(obj)) is not None:
        return pending
    progressing = _condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return (Health.DEGRADED, str(progressing.get("message") or progressing["reason"]))
    status = _status(obj)
    wanted = _int(_spec(obj).get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < wanted:
        return (Health.PROGRESSING, f"{updated} of {wanted} replicas updated")
    if total > updated:
        return (Health.PROGRESSING, f"{total - updated} old replicas pending termination")
    if available < updated:
        return (Health.PROGRESSING, f"{available} of {updated} updated replicas available")
    return HEALTHY


def stateful_set(obj: Manifest) -> Verdict:
    if (pending := _generation_pending(obj)) is not None:
        return pending
    spec, status = _spec(obj), _status(obj)
    wanted = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < wanted:
        return (Health.PROGRESSING, f"{ready} of {wanted} replicas ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
        updated = _int(status.get("updatedReplicas"))
        if updated < wanted - partition:
            return (Health.PROGRESSING, f"{updated} of {wanted - partition} replicas updated")
        if partition == 0 and status.get("updateRevision") not in (
            None,
            status.get("currentRevision"),
        ):
            return (Health.PROGRESSING, "rolling update in progress")
    return HEALTHY


def daemon_set(obj: Manifest) -> Verdict:
    if (pending := _generation_pending(obj)) is not None:
        return pending
    status = _status(obj)
    wanted = _int(status.get("desiredNumberScheduled"))
    strategy = _spec(obj).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        updated = _int(status.get("updatedNumberScheduled"))
        if updated < wanted:
            return (Health.PROGRESSING, f"{updated} of {wanted} pods updated")
    available = _int(status.get("numberAvailable"))
    if available < wanted:
        return (Health.PROGRESSING, f"{available} of {wanted} pods available")
    return HEALTHY


def replica_set(obj: Manifest) -> Verdict:
    if (pending := _generation_pending(obj)) is not None:
        return pending
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return (Health.DEGRADED, _message(failure, "replica failure"))
    wanted = _int(_spec(obj).get("replicas"), 1)
    available = _int(_status(obj).get("availableReplicas"))
    if available < wanted:
        return (Health.PROGRESSING, f"{available} of {wanted} replicas available")
    return HEALTHY


def job(obj: Manifest) -> Verdict:
    failed = _condition(obj, "Failed")
    if failed is not None and failed.get("status") == "True":
        return (Health.DEGRADED, _message(failed, "job failed"))
    if _is(obj, "Complete", "True"):
        return (Health.HEALTHY, "job completed")
    if _spec(obj).get("suspend"):
        return (Health.SUSPENDED, "job is suspended")
    return (Health.PROGRESSING, "job is running")


def cron_job(obj: Manifest) -> Verdict:
    """Suspended, or Degraded when its last scheduled run has not succeeded and none runs (the
    job controller records `lastSuccessfulTime` only for runs that complete)."""
    if _spec(obj).get("suspend"):
        return (Health.SUSPENDED, "cronjob is suspended")
    status = _status(obj)
    scheduled = str(status.get("lastScheduleTime") or "")
    succeeded = str(status.get("lastSuccessfulTime") or "")
    if scheduled and not status.get("active") and succeeded < scheduled:
        return (Health.DEGRADED, f"the run scheduled at {scheduled} did not succeed")
    return HEALTHY


def pod(obj: Manifest) -> Verdict:
    status = _status(obj)
    phase = status.get("phase")
    containers = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _WAITING_DEGRADED:
            name = container.get("name", "?")
            detail = waiting.get("message") or waiting["reason"]
            return (Health.DEGRADED, f"container {name}: {detail}")
    match phase:
        case "Succeeded":
            return (Health.HEALTHY, "pod completed")
        case "Failed":
            return (Health.DEGRADED, str(status.get("message") or _exited(containers)))
        case "Pending":
            return (Health.PROGRESSING, str(status.get("message") or "pod is pending"))
        case "Running":
            main = status.get("containerStatuses") or ()
            not_ready = [c.get("name", "?") for c in main if not c.get("ready")]
            if not_ready:
                return (Health.PROGRESSING, f"containers not ready: {', '.join(not_ready)}")
            return HEALTHY
    return (Health.UNKNOWN, f"pod phase {phase or 'not reported'}")


def _exited(containers: Sequence[Mapping[str, Any]]) -> str:
    """`container migrate exited 1 (Error)` for the first container that failed."""
    for container in containers:
        ended = (container.get("state") or {}).get("terminated") or {}
        if ended.get("exitCode"):
            reason = f" ({ended['reason']})" if ended.get("reason") else ""
            return f"container {container.get('name', '?')} exited {ended['exitCode']}{reason}"
    return "pod failed"


def persistent_volume_claim(obj: Manifest, facts: ClusterFacts = NO_FACTS) -> Verdict:
    phase = _status(obj).get("phase")
    if phase == "Bound":
        return HEALTHY
    if phase == "Lost":
        return (Health.DEGRADED, "claim lost its volume")
    storage_class = _spec(obj).get("storageClassName")
    if storage_class is None:
        storage_class = facts.default_class
    if phase in (None, "Pending") and storage_class in facts.first_consumer_classes:
        return (
            Health.HEALTHY,
            f"waiting for its first consumer (storage class {storage_class} is "
            "WaitForFirstConsumer)",
        )
    return (Health.PROGRESSING, f"claim is {phase or 'not bound yet'}")


def service(obj: Manifest) -> Verdict:
    if _spec(obj).get("type") != "LoadBalancer":
        return HEALTHY
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or ()
    if ingress:
        return HEALTHY
    return (Health.PROGRESSING, "waiting for a load balancer address")


def custom_resource_definition(obj: Manifest) -> Verdict:
    names = _condition(obj, "NamesAccepted")
    if names is not None and names.get("status") == "False":
        return (Health.DEGRADED, _message(names, "names not accepted"))
    if _is(obj, "Established", "True"):
        return HEALTHY
    return (Health.PROGRESSING, "waiting for the CRD to be established")


def namespace(obj: Manifest) -> Verdict:
    if _status(obj).get("phase") == "Terminating":
        return (Health.PROGRESSING, "namespace is terminating")
    return HEALTHY


def horizontal_pod_autoscaler(obj: Manifest) -> Verdict:
    for kind in ("AbleToScale", "ScalingActive"):
        condition = _condition(obj, kind)
        if condition is None or condition.get("status") != "False":
            continue
        if condition.get("reason") == "ScalingDisabled":
            return (Health.SUSPENDED, str(condition.get("message") or condition["reason"]))
        reason = condition.get("reason")
        detail = _message(condition, "")
        text = f"{kind} is False" + (f" ({reason})" if reason else "")
        return (Health.DEGRADED, f"{text}: {detail}" if detail and detail != reason else text)
    return HEALTHY


def conditions(obj: Manifest) -> Verdict:
    """The fallback for kinds without a rule: standard conditions, else Healthy."""
    stalled = _condition(obj, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        return (Health.DEGRADED, _message(stalled, "stalled"))
    if "observedGeneration" in _status(obj) and (pending := _generation_pending(obj)):
        return pending
    reconciling = _condition(obj, "Reconciling")
    if reconciling is not None and reconciling.get("status") == "True":
        return (Health.PROGRESSING, _message(reconciling, "reconciling"))
    for kind in ("Ready", "Available"):
        condition = _condition(obj, kind)
        if condition is None:
            continue
        match condition.get("status"):
            case "True":
                return HEALTHY
            case "False" if condition.get("reason") not in _PROGRESSING_REASONS:
                return (Health.DEGRADED, _message(condition, f"{kind} is False"))
            case _:
                return (Health.PROGRESSING, _message(condition, f"waiting for {kind}"))
    return HEALTHY


RULES: Mapping[tuple[str, str], Rule] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): stateful_set,
    ("apps", "DaemonSet"): daemon_set,
    ("apps", "ReplicaSet"): replica_set,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cron_job,
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "Namespace"): namespace,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): custom_resource_definition,
    ("autoscaling", "HorizontalPodAutoscaler"): horizontal_pod_autoscaler,
}
"""(group, kind) -> rule; every other kind goes through `conditions`."""


FACT_RULES: Mapping[tuple[str, str], Callable[[Manifest, ClusterFacts], Verdict]] = {
    ("", "PersistentVolumeClaim"): persistent_volume_claim,
}
"""Rules that need `ClusterFacts`; they take precedence over `RULES`."""


def assess_object(obj: Manifest | None, facts: ClusterFacts = NO_FACTS) -> Verdict:
    """The health of one live object; None (not found) is Missing."""
    if obj is None:
        return (Health.MISSING, "not found in the cluster")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return (Health.PROGRESSING, "being deleted")
    kind = group_kind(obj)
    if (with_facts := FACT_RULES.get(kind)) is not None:
        return with_facts(obj, facts)
    return RULES.get(kind, conditions)(obj)


def needs_facts(objects: Iterable[Manifest | None]) -> bool:
    """Whether any verdict on these objects depends on `ClusterFacts` (a claim not yet bound)."""
    return any(
        o is not None
        and o.get("kind") == "PersistentVolumeClaim"
        and _status(o).get("phase") != "Bound"
        for o in objects
    )


def describe_unhealthy(objects: Iterable[ObjectHealth], *, shown: int = 3) -> str:
    """The objects that keep an application from Healthy, worst first:
    `apps/Deployment/web/api: Progressing (1 of 3 replicas available); 2 more not healthy`."""
    unhealthy = sorted(
        (o for o in objects if o.health not in SETTLED), key=lambda o: -o.health.rank
    )
    parts = [str(o) for o in unhealthy[:shown]]
    if len(unhealthy) > shown:
        parts.append(f"{len(unhealthy) - shown} more not healthy")
    return "; ".join(parts)


def assess_health(objs: Iterable[Manifest | None]) -> Health:
    """The worst health of the objects (an empty set is Healthy)."""
    return Health.worst(assess_object(o)[0] for o in objs)
