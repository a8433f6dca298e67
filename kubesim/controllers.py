"""Simulated controllers: workloads report status the way kube-controller-manager makes them.

When a Deployment, StatefulSet, DaemonSet or ReplicaSet gets a new generation, its status first
says "rolling out" (observedGeneration caught up, nothing ready), then after the cluster's
`ready_delay` "available" (all replicas ready), unless `never_ready` is set. Jobs start and then
complete (or fail, or stay active: the `job_result` knob); Pods run, and a Pod that runs to
completion (restartPolicy Never or OnFailure) ends by the same knob: Succeeded, Failed (with
OnFailure: restarting in CrashLoopBackOff, as the kubelet keeps it) or still Running.
PersistentVolumeClaims bind.
Status is written through the status subresource by the manager `kube-controller-manager`, so
watches see MODIFIED events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.cluster import Cluster, now_rfc3339
from kubesim.managedfields import decode_entries, encode_entries, record_update

MANAGER = "kube-controller-manager"
StatusRule = Callable[[dict[str, Any], bool], dict[str, Any]]


def _replicas(obj: dict[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas", 1)
    return int(value) if isinstance(value, int) else 1


def _cond(kind: str, status: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }


def _nonzero(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if v != 0}


def _revision(obj: dict[str, Any]) -> str:
    digest = hashlib.sha256(repr(obj.get("spec")).encode()).hexdigest()[:10]
    return f"{obj['metadata']['name']}-{digest}"


def deployment_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    n, now = _replicas(obj), now_rfc3339()
    rs = _revision(obj)
    status = _nonzero(
        {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": n,
            "updatedReplicas": n,
            "readyReplicas": n if ready else 0,
            "availableReplicas": n if ready else 0,
            "unavailableReplicas": 0 if ready else n,
        }
    )
    if ready:
        status["conditions"] = [
            _cond(
                "Available",
                True,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            ),
            _cond(
                "Progressing",
                True,
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs}" has successfully progressed.',
                now,
            ),
        ]
    else:
        status["conditions"] = [
            _cond(
                "Available",
                False,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            ),
            _cond(
                "Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.', now
            ),
        ]
    return status


def statefulset_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    n = _replicas(obj)
    revision = _revision(obj)
    return {
        **_nonzero(
            {
                "observedGeneration": obj["metadata"].get("generation", 1),
                "replicas": n,
                "readyReplicas": n if ready else 0,
                "currentReplicas": n if ready else 0,
                "updatedReplicas": n,
                "availableReplicas": n if ready else 0,
            }
        ),
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }


def daemonset_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "numberMisscheduled": 0,
        "updatedNumberScheduled": 1,
        "numberReady": 1 if ready else 0,
        **({"numberAvailable": 1} if ready else {"numberUnavailable": 1}),
    }


def replicaset_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    n = _replicas(obj)
    return _nonzero(
        {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": n,
            "fullyLabeledReplicas": n,
            "readyReplicas": n if ready else 0,
            "availableReplicas": n if ready else 0,
        }
    )


def job_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    now = now_rfc3339()
    start = (obj.get("status") or {}).get("startTime") or now
    if not ready:
        return {"active": 1, "ready": 0, "startTime": start, "uncountedTerminatedPods": {}}
    completions = (obj.get("spec") or {}).get("completions") or 1
    return {
        "succeeded": completions,
        "ready": 0,
        "startTime": start,
        "completionTime": now,
        "uncountedTerminatedPods": {},
        "conditions": [
            _cond(
                "SuccessCriteriaMet",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
            _cond(
                "Complete",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
        ],
    }


def failed_job_status(obj: dict[str, Any]) -> dict[str, Any]:
    """A Job whose pods kept failing, as the job controller reports it."""
    now = now_rfc3339()
    start = (obj.get("status") or {}).get("startTime") or now
    limit = (obj.get("spec") or {}).get("backoffLimit", 6)
    return {
        "failed": int(limit) + 1,
        "ready": 0,
        "startTime": start,
        "uncountedTerminatedPods": {},
        "conditions": [
            _cond(
                "FailureTarget",
                True,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ),
            _cond(
                "Failed",
                True,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ),
        ],
    }


def pod_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    now = now_rfc3339()
    if not ready:
        return {"phase": "Pending", "conditions": [_cond("PodScheduled", True, "", "", now)]}
    return {
        "phase": "Running",
        "podIP": "10.244.0.10",
        "startTime": now,
        "conditions": [
            _cond(c, True, "", "", now)
            for c in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ],
    }


def finished_pod_status(obj: dict[str, Any], *, succeeded: bool) -> dict[str, Any]:
    """A Pod whose containers ended, as the kubelet reports it: Succeeded (every container
    exited 0), Failed (restartPolicy Never, a container exited 1) or, with restartPolicy
    OnFailure, Running and restarting the failed container in CrashLoopBackOff."""
    now = now_rfc3339()
    start = (obj.get("status") or {}).get("startTime") or now
    names = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []]
    never = (obj.get("spec") or {}).get("restartPolicy") == "Never"
    if not succeeded and not never:
        state: dict[str, Any] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 10s restarting failed container",
            }
        }
        statuses = [
            {
                "name": n,
                "ready": False,
                "restartCount": 1,
                "state": state,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }
            for n in names
        ]
        return {
            "phase": "Running",
            "startTime": start,
            "containerStatuses": statuses,
            "conditions": [
                _cond("Ready", False, "ContainersNotReady", "containers with unready status", now),
                _cond("PodScheduled", True, "", "", now),
            ],
        }
    code, reason = (0, "Completed") if succeeded else (1, "Error")
    statuses = [
        {
            "name": n,
            "ready": False,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": start,
                    "finishedAt": now,
                }
            },
        }
        for n in names
    ]
    return {
        "phase": "Succeeded" if succeeded else "Failed",
        "startTime": start,
        "containerStatuses": statuses,
        "conditions": [
            _cond("Ready", False, "PodCompleted" if succeeded else "PodFailed", "", now),
            _cond("PodScheduled", True, "", "", now),
        ],
    }


def completes(rtype: ResourceType, obj: dict[str, Any]) -> bool:
    """Whether the object runs to completion: a Job, or a Pod that is not always restarted."""
    if rtype.kind == "Job":
        return True
    policy = (obj.get("spec") or {}).get("restartPolicy", "Always")
    return rtype.kind == "Pod" and policy in ("Never", "OnFailure")


def pvc_status(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    return {"phase": "Bound" if ready else "Pending"}


RULES: dict[tuple[str, str], StatusRule] = {
    ("apps", "Deployment"): deployment_status,
    ("apps", "StatefulSet"): statefulset_status,
    ("apps", "DaemonSet"): daemonset_status,
    ("apps", "ReplicaSet"): replicaset_status,
    ("batch", "Job"): job_status,
    ("", "Pod"): pod_status,
    ("", "PersistentVolumeClaim"): pvc_status,
}
_GENERATION_DRIVEN = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}


def _needs_work(rtype: ResourceType, obj: dict[str, Any]) -> bool:
    if obj["metadata"].get("deletionTimestamp"):
        return False
    status = obj.get("status") or {}
    if rtype.kind in _GENERATION_DRIVEN:
        return bool(status.get("observedGeneration") != obj["metadata"].get("generation"))
    if rtype.kind == "Job":
        return "startTime" not in status
    if rtype.kind == "Pod":
        return (
            "startTime" not in status
            and status.get("phase") == "Pending"
            and ("conditions" not in status)
        )
    return status.get("phase") == "Pending"


def write_status(
    cluster: Cluster, rtype: ResourceType, obj: dict[str, Any], status: dict[str, Any]
) -> None:
    current = cluster.store.get(
        (rtype.group, rtype.resource), obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
    )
    if current is None or current["metadata"].get("uid") != obj["metadata"].get("uid"):
        return
    if current["metadata"].get("generation") != obj["metadata"].get("generation"):
        return
    new = {**current, "metadata": dict(current["metadata"]), "status": status}
    entries = record_update(
        current,
        new,
        manager=MANAGER,
        api_version=rtype.api_version(),
        subresource="status",
        schema=cluster.list_schema(rtype),
        ignore_status=False,
        now=now_rfc3339(),
        entries=decode_entries(current),
    )
    new["metadata"]["managedFields"] = encode_entries(entries)
    cluster.commit(rtype, current, new, dry_run=False)


def react(cluster: Cluster, rtype: ResourceType, obj: dict[str, Any]) -> None:
    """The controller hook: called after every stored write."""
    settings = cluster.controllers
    rule = RULES.get((rtype.group, rtype.kind))
    if rule is None or not settings.enabled or not _needs_work(rtype, obj):
        return

    is_job = rtype.kind == "Job"
    ends = completes(rtype, obj)

    def progressing() -> None:
        write_status(cluster, rtype, obj, rule(obj, False))
        if not settings.never_ready and not (is_job and settings.job_result == "run"):
            cluster.schedule(settings.ready_delay, ready)

    def ready() -> None:
        current_settings = cluster.controllers
        if current_settings.never_ready or not current_settings.enabled:
            return
        if is_job and current_settings.job_result == "run":
            return
        current = cluster.store.get(
            (rtype.group, rtype.resource),
            obj["metadata"].get("namespace", ""),
            obj["metadata"]["name"],
        )
        if current is None:
            return
        result = current_settings.job_result
        if is_job and result == "fail":
            write_status(cluster, rtype, obj, failed_job_status(current))
        elif ends and not is_job and result != "run":
            status = finished_pod_status(current, succeeded=result == "complete")
            write_status(cluster, rtype, obj, status)
        else:
            write_status(cluster, rtype, obj, rule(current, True))

    cluster.schedule(0.0, progressing)
