"""Health rules, one table row per situation a controller reports."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.health import (
    HEALTHY,
    ClusterFacts,
    ObjectHealth,
    assess_health,
    assess_object,
    describe_unhealthy,
    needs_facts,
)
from fleetsync.shared.model import Health, ResourceKey


def make(
    kind: str,
    api: str = "v1",
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    generation: int | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", **metadata}
    if generation is not None:
        meta["generation"] = generation
    out: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": meta}
    if spec is not None:
        out["spec"] = spec
    if status is not None:
        out["status"] = status
    return out


def cond(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def deploy(status: dict[str, Any] | None = None, *, paused: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": 2, **({"paused": True} if paused else {})}
    return make("Deployment", "apps/v1", spec=spec, status=status or {}, generation=3)


ROLLED_OUT = {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}

CASES = [
    # Deployment
    ("deployment-rolled-out", deploy(ROLLED_OUT), (Health.HEALTHY, "")),
    (
        "deployment-no-status-yet",
        deploy(),
        (Health.PROGRESSING, "waiting for the controller to observe generation 3 (seen 0)"),
    ),
    (
        "deployment-old-generation",
        deploy({**ROLLED_OUT, "observedGeneration": 2}),
        (Health.PROGRESSING, "waiting for the controller to observe generation 3 (seen 2)"),
    ),
    (
        "deployment-updating",
        deploy({**ROLLED_OUT, "updatedReplicas": 1}),
        (Health.PROGRESSING, "1 of 2 replicas updated"),
    ),
    (
        "deployment-old-replicas",
        deploy({**ROLLED_OUT, "replicas": 3}),
        (Health.PROGRESSING, "1 old replicas pending termination"),
    ),
    (
        "deployment-unavailable",
        deploy({**ROLLED_OUT, "availableReplicas": 1}),
        (Health.PROGRESSING, "1 of 2 updated replicas available"),
    ),
    (
        "deployment-deadline-exceeded",
        deploy(
            {
                **ROLLED_OUT,
                "updatedReplicas": 1,
                "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded")],
            }
        ),
        (Health.DEGRADED, "ProgressDeadlineExceeded"),
    ),
    ("deployment-paused", deploy(paused=True), (Health.SUSPENDED, "deployment is paused")),
    (
        "deployment-default-one-replica",
        make(
            "Deployment",
            "apps/v1",
            spec={},
            generation=1,
            status={
                "observedGeneration": 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "availableReplicas": 1,
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "deployment-old-replicas-counted",
        deploy({**ROLLED_OUT, "replicas": 5, "updatedReplicas": 2}),
        (Health.PROGRESSING, "3 old replicas pending termination"),
    ),
    (
        "deployment-default-one-replica-not-updated",
        make("Deployment", "apps/v1", spec={}, generation=1, status={"observedGeneration": 1}),
        (Health.PROGRESSING, "0 of 1 replicas updated"),
    ),
    (
        "deployment-scaled-to-zero",
        make(
            "Deployment",
            "apps/v1",
            spec={"replicas": 0},
            generation=1,
            status={"observedGeneration": 1},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "deployment-deadline-exceeded-says-why",
        deploy(
            {
                **ROLLED_OUT,
                "updatedReplicas": 1,
                "conditions": [
                    cond(
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        'ReplicaSet "api-7c9" has timed out progressing.',
                    )
                ],
            }
        ),
        (Health.DEGRADED, 'ReplicaSet "api-7c9" has timed out progressing.'),
    ),
    (
        "deployment-progressing-within-deadline",
        deploy(
            {
                **ROLLED_OUT,
                "updatedReplicas": 1,
                "conditions": [cond("Progressing", "True", "ReplicaSetUpdated")],
            }
        ),
        (Health.PROGRESSING, "1 of 2 replicas updated"),
    ),
    (
        "deployment-without-generation-judged-by-replicas",
        make(
            "Deployment",
            "apps/v1",
            spec={"replicas": 2},
            status={"updatedReplicas": 2, "replicas": 2, "availableReplicas": 1},
        ),
        (Health.PROGRESSING, "1 of 2 updated replicas available"),
    ),
    # StatefulSet
    (
        "statefulset-ready",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 2},
            generation=1,
            status={
                "observedGeneration": 1,
                "readyReplicas": 2,
                "updatedReplicas": 2,
                "currentRevision": "r1",
                "updateRevision": "r1",
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "statefulset-not-ready",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 2},
            generation=1,
            status={"observedGeneration": 1, "readyReplicas": 1},
        ),
        (Health.PROGRESSING, "1 of 2 replicas ready"),
    ),
    (
        "statefulset-rolling",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 2},
            generation=1,
            status={
                "observedGeneration": 1,
                "readyReplicas": 2,
                "updatedReplicas": 1,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        (Health.PROGRESSING, "1 of 2 replicas updated"),
    ),
    (
        "statefulset-partitioned-rollout-done",
        make(
            "StatefulSet",
            "apps/v1",
            generation=1,
            spec={
                "replicas": 3,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            },
            status={
                "observedGeneration": 1,
                "readyReplicas": 3,
                "updatedReplicas": 1,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "statefulset-default-one-replica",
        make("StatefulSet", "apps/v1", spec={}, generation=1, status={"observedGeneration": 1}),
        (Health.PROGRESSING, "0 of 1 replicas ready"),
    ),
    (
        "statefulset-revision-rolling",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 2},
            generation=1,
            status={
                "observedGeneration": 1,
                "readyReplicas": 2,
                "updatedReplicas": 2,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        (Health.PROGRESSING, "rolling update in progress"),
    ),
    (
        "statefulset-no-update-revision-reported",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 2},
            generation=1,
            status={
                "observedGeneration": 1,
                "readyReplicas": 2,
                "updatedReplicas": 2,
                "currentRevision": "r1",
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "statefulset-partitioned-rollout-under-way",
        make(
            "StatefulSet",
            "apps/v1",
            generation=1,
            spec={
                "replicas": 4,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            },
            status={
                "observedGeneration": 1,
                "readyReplicas": 4,
                "updatedReplicas": 2,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        (Health.PROGRESSING, "2 of 3 replicas updated"),
    ),
    (
        "statefulset-ondelete-ignores-updates",
        make(
            "StatefulSet",
            "apps/v1",
            generation=1,
            spec={"replicas": 2, "updateStrategy": {"type": "OnDelete"}},
            status={
                "observedGeneration": 1,
                "readyReplicas": 2,
                "updatedReplicas": 0,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "statefulset-old-generation",
        make(
            "StatefulSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=2,
            status={"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1},
        ),
        (Health.PROGRESSING, "waiting for the controller to observe generation 2 (seen 1)"),
    ),
    # DaemonSet
    (
        "daemonset-everywhere",
        make(
            "DaemonSet",
            "apps/v1",
            generation=1,
            status={
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 3,
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "daemonset-updating",
        make(
            "DaemonSet",
            "apps/v1",
            generation=1,
            status={
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 2,
                "numberAvailable": 3,
            },
        ),
        (Health.PROGRESSING, "2 of 3 pods updated"),
    ),
    (
        "daemonset-ondelete-ignores-updates",
        make(
            "DaemonSet",
            "apps/v1",
            generation=1,
            spec={"updateStrategy": {"type": "OnDelete"}},
            status={
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 0,
                "numberAvailable": 3,
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "daemonset-updated-not-available",
        make(
            "DaemonSet",
            "apps/v1",
            generation=1,
            status={
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 1,
            },
        ),
        (Health.PROGRESSING, "1 of 3 pods available"),
    ),
    (
        "daemonset-ondelete-still-waits-for-availability",
        make(
            "DaemonSet",
            "apps/v1",
            generation=1,
            spec={"updateStrategy": {"type": "OnDelete"}},
            status={
                "observedGeneration": 1,
                "desiredNumberScheduled": 4,
                "updatedNumberScheduled": 0,
                "numberAvailable": 2,
            },
        ),
        (Health.PROGRESSING, "2 of 4 pods available"),
    ),
    (
        "daemonset-old-generation",
        make(
            "DaemonSet",
            "apps/v1",
            generation=7,
            status={"observedGeneration": 6, "desiredNumberScheduled": 0},
        ),
        (Health.PROGRESSING, "waiting for the controller to observe generation 7 (seen 6)"),
    ),
    # ReplicaSet
    (
        "replicaset-failure",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=1,
            status={
                "observedGeneration": 1,
                "conditions": [cond("ReplicaFailure", "True", "FailedCreate", "quota")],
            },
        ),
        (Health.DEGRADED, "quota"),
    ),
    (
        "replicaset-available",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=1,
            status={"observedGeneration": 1, "availableReplicas": 1},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "replicaset-scaling-up",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 3},
            generation=1,
            status={"observedGeneration": 1, "availableReplicas": 2},
        ),
        (Health.PROGRESSING, "2 of 3 replicas available"),
    ),
    (
        "replicaset-default-one-replica",
        make("ReplicaSet", "apps/v1", spec={}, generation=1, status={"observedGeneration": 1}),
        (Health.PROGRESSING, "0 of 1 replicas available"),
    ),
    (
        "replicaset-scaled-to-zero",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 0},
            generation=1,
            status={"observedGeneration": 1},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "replicaset-failure-cleared",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=1,
            status={
                "observedGeneration": 1,
                "availableReplicas": 1,
                "conditions": [cond("ReplicaFailure", "False", "FailedCreate", "quota")],
            },
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "replicaset-failure-unexplained",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=1,
            status={
                "observedGeneration": 1,
                "conditions": [{"type": "ReplicaFailure", "status": "True"}],
            },
        ),
        (Health.DEGRADED, "replica failure"),
    ),
    (
        "replicaset-old-generation",
        make(
            "ReplicaSet",
            "apps/v1",
            spec={"replicas": 1},
            generation=4,
            status={"observedGeneration": 3, "availableReplicas": 1},
        ),
        (Health.PROGRESSING, "waiting for the controller to observe generation 4 (seen 3)"),
    ),
    # Job and CronJob
    (
        "job-complete",
        make("Job", "batch/v1", status={"conditions": [cond("Complete", "True")]}),
        (Health.HEALTHY, "job completed"),
    ),
    (
        "job-failed",
        make("Job", "batch/v1", status={"conditions": [cond("Failed", "True")]}),
        (Health.DEGRADED, "job failed"),
    ),
    (
        "job-running",
        make("Job", "batch/v1", status={"active": 1}),
        (Health.PROGRESSING, "job is running"),
    ),
    (
        "job-suspended",
        make("Job", "batch/v1", spec={"suspend": True}),
        (Health.SUSPENDED, "job is suspended"),
    ),
    ("cronjob-active", make("CronJob", "batch/v1", spec={"suspend": False}), (Health.HEALTHY, "")),
    (
        "cronjob-suspended",
        make("CronJob", "batch/v1", spec={"suspend": True}),
        (Health.SUSPENDED, "cronjob is suspended"),
    ),
    # Pod
    (
        "pod-running-ready",
        make(
            "Pod", status={"phase": "Running", "containerStatuses": [{"name": "a", "ready": True}]}
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "pod-running-not-ready",
        make(
            "Pod", status={"phase": "Running", "containerStatuses": [{"name": "a", "ready": False}]}
        ),
        (Health.PROGRESSING, "containers not ready: a"),
    ),
    (
        "pod-crashloop",
        make(
            "Pod",
            status={
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "a",
                        "ready": False,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    }
                ],
            },
        ),
        (Health.DEGRADED, "container a: back-off"),
    ),
    (
        "pod-image-pull",
        make(
            "Pod",
            status={
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
                ],
            },
        ),
        (Health.DEGRADED, "container a: ImagePullBackOff"),
    ),
    (
        "pod-pending",
        make("Pod", status={"phase": "Pending"}),
        (Health.PROGRESSING, "pod is pending"),
    ),
    (
        "pod-succeeded",
        make("Pod", status={"phase": "Succeeded"}),
        (Health.HEALTHY, "pod completed"),
    ),
    ("pod-failed", make("Pod", status={"phase": "Failed"}), (Health.DEGRADED, "pod failed")),
    ("pod-no-phase", make("Pod", status={}), (Health.UNKNOWN, "pod phase not reported")),
    (
        "pod-init-container-crashloop",
        make(
            "Pod",
            status={
                "phase": "Pending",
                "initContainerStatuses": [
                    {
                        "name": "migrate",
                        "state": {
                            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}
                        },
                    }
                ],
                "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}
                ],
            },
        ),
        (Health.DEGRADED, "container migrate: back-off 5m"),
    ),
    (
        "pod-creating-container-is-pending",
        make(
            "Pod",
            status={
                "phase": "Pending",
                "message": "waiting for volumes",
                "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}
                ],
            },
        ),
        (Health.PROGRESSING, "waiting for volumes"),
    ),
    (
        "pod-failed-says-why",
        make("Pod", status={"phase": "Failed", "message": "Pod was evicted: low on memory"}),
        (Health.DEGRADED, "Pod was evicted: low on memory"),
    ),
    (
        "pod-failed-names-the-container-that-exited",
        make(
            "Pod",
            status={
                "phase": "Failed",
                "containerStatuses": [
                    {
                        "name": "sidecar",
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    },
                    {
                        "name": "migrate",
                        "state": {"terminated": {"exitCode": 3, "reason": "Error"}},
                    },
                ],
            },
        ),
        (Health.DEGRADED, "container migrate exited 3 (Error)"),
    ),
    (
        "pod-failed-exit-without-reason",
        make(
            "Pod",
            status={
                "phase": "Failed",
                "containerStatuses": [
                    {"name": "migrate", "state": {"terminated": {"exitCode": 137}}}
                ],
            },
        ),
        (Health.DEGRADED, "container migrate exited 137"),
    ),
    (
        "pod-running-names-every-container-not-ready",
        make(
            "Pod",
            status={
                "phase": "Running",
                "containerStatuses": [
                    {"name": "a", "ready": False},
                    {"name": "b", "ready": True},
                    {"name": "c"},
                ],
            },
        ),
        (Health.PROGRESSING, "containers not ready: a, c"),
    ),
    (
        "pod-running-unnamed-container-not-ready",
        make("Pod", status={"phase": "Running", "containerStatuses": [{"ready": False}]}),
        (Health.PROGRESSING, "containers not ready: ?"),
    ),
    (
        "pod-phase-unknown",
        make("Pod", status={"phase": "Unknown"}),
        (Health.UNKNOWN, "pod phase Unknown"),
    ),
    # PVC, Service, CRD, Namespace, HPA
    ("pvc-bound", make("PersistentVolumeClaim", status={"phase": "Bound"}), (Health.HEALTHY, "")),
    (
        "pvc-pending",
        make("PersistentVolumeClaim", status={"phase": "Pending"}),
        (Health.PROGRESSING, "claim is Pending"),
    ),
    (
        "pvc-lost",
        make("PersistentVolumeClaim", status={"phase": "Lost"}),
        (Health.DEGRADED, "claim lost its volume"),
    ),
    ("service-clusterip", make("Service", spec={"type": "ClusterIP"}), (Health.HEALTHY, "")),
    (
        "service-lb-waiting",
        make("Service", spec={"type": "LoadBalancer"}, status={}),
        (Health.PROGRESSING, "waiting for a load balancer address"),
    ),
    (
        "service-lb-assigned",
        make(
            "Service",
            spec={"type": "LoadBalancer"},
            status={"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "crd-established",
        make(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            status={"conditions": [cond("Established", "True")]},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "crd-not-yet",
        make("CustomResourceDefinition", "apiextensions.k8s.io/v1", status={}),
        (Health.PROGRESSING, "waiting for the CRD to be established"),
    ),
    (
        "crd-names-refused",
        make(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            status={"conditions": [cond("NamesAccepted", "False", "NameConflict")]},
        ),
        (Health.DEGRADED, "NameConflict"),
    ),
    (
        "crd-names-refused-saying-nothing",
        make(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            status={"conditions": [{"type": "NamesAccepted", "status": "False"}]},
        ),
        (Health.DEGRADED, "names not accepted"),
    ),
    ("namespace-active", make("Namespace", status={"phase": "Active"}), (Health.HEALTHY, "")),
    (
        "namespace-terminating",
        make("Namespace", status={"phase": "Terminating"}),
        (Health.PROGRESSING, "namespace is terminating"),
    ),
    (
        "hpa-cannot-scale",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("AbleToScale", "False", "FailedGetScale")]},
        ),
        (Health.DEGRADED, "AbleToScale is False (FailedGetScale)"),
    ),
    (
        "hpa-scaling",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("AbleToScale", "True"), cond("ScalingActive", "True")]},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "pvc-no-phase-yet",
        make("PersistentVolumeClaim", status={}),
        (Health.PROGRESSING, "claim is not bound yet"),
    ),
    (
        "hpa-scaling-disabled",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={
                "conditions": [
                    cond("AbleToScale", "True", "SucceededGetScale"),
                    cond(
                        "ScalingActive",
                        "False",
                        "ScalingDisabled",
                        "scaling is disabled since the replica count of the target is zero",
                    ),
                ]
            },
        ),
        (Health.SUSPENDED, "scaling is disabled since the replica count of the target is zero"),
    ),
    (
        "hpa-scaling-disabled-saying-nothing-more",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("ScalingActive", "False", "ScalingDisabled")]},
        ),
        (Health.SUSPENDED, "ScalingDisabled"),
    ),
    (
        "hpa-false-without-reason",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("ScalingActive", "False", "", "no metrics yet")]},
        ),
        (Health.DEGRADED, "ScalingActive is False: no metrics yet"),
    ),
    (
        "hpa-first-false-condition-reported",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={
                "conditions": [
                    cond("ScalingActive", "False", "FailedGetResourceMetric"),
                    cond("AbleToScale", "False", "FailedGetScale"),
                ]
            },
        ),
        (Health.DEGRADED, "AbleToScale is False (FailedGetScale)"),
    ),
    (
        "hpa-false-saying-nothing",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [{"type": "ScalingActive", "status": "False"}]},
        ),
        (Health.DEGRADED, "ScalingActive is False"),
    ),
    # Any kind: standard conditions, else healthy once it exists
    (
        "custom-ready",
        make("Widget", "example.com/v1", status={"conditions": [cond("Ready", "True")]}),
        (Health.HEALTHY, ""),
    ),
    (
        "custom-not-ready-failed",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Ready", "False", "InstallFailed", "boom")]},
        ),
        (Health.DEGRADED, "boom"),
    ),
    (
        "custom-not-ready-progressing",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Ready", "False", "Progressing")]},
        ),
        (Health.PROGRESSING, "Progressing"),
    ),
    (
        "custom-ready-unknown",
        make("Widget", "example.com/v1", status={"conditions": [cond("Ready", "Unknown")]}),
        (Health.PROGRESSING, "waiting for Ready"),
    ),
    (
        "custom-available-false",
        make(
            "Widget", "example.com/v1", status={"conditions": [cond("Available", "False", "Oops")]}
        ),
        (Health.DEGRADED, "Oops"),
    ),
    (
        "custom-stalled",
        make("Widget", "example.com/v1", status={"conditions": [cond("Stalled", "True")]}),
        (Health.DEGRADED, "stalled"),
    ),
    (
        "custom-old-generation",
        make(
            "Widget",
            "example.com/v1",
            generation=2,
            status={"observedGeneration": 1, "conditions": [cond("Ready", "True")]},
        ),
        (Health.PROGRESSING, "waiting for the controller to observe generation 2 (seen 1)"),
    ),
    (
        "custom-not-ready-unexplained",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [{"type": "Ready", "status": "False"}]},
        ),
        (Health.DEGRADED, "Ready is False"),
    ),
    (
        "custom-available-unknown",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [{"type": "Available", "status": "Unknown"}]},
        ),
        (Health.PROGRESSING, "waiting for Available"),
    ),
    (
        "custom-ready-before-available",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Available", "False", "Oops"), cond("Ready", "True")]},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "custom-stalled-says-why",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Stalled", "True", "BadSpec", "size must be positive")]},
        ),
        (Health.DEGRADED, "size must be positive"),
    ),
    (
        "custom-stalled-false-judged-by-ready",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Stalled", "False"), cond("Ready", "True")]},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "custom-reconciling-false-judged-by-ready",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Reconciling", "False"), cond("Ready", "True")]},
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "custom-generation-without-observed-generation",
        make(
            "Widget", "example.com/v1", generation=5, status={"conditions": [cond("Ready", "True")]}
        ),
        (Health.HEALTHY, ""),
    ),
    (
        "custom-observed-current-generation",
        make(
            "Widget",
            "example.com/v1",
            generation=2,
            status={"observedGeneration": 2, "conditions": [cond("Ready", "False", "Pending")]},
        ),
        (Health.PROGRESSING, "Pending"),
    ),
    ("configmap-exists", make("ConfigMap"), (Health.HEALTHY, "")),
    (
        "being-deleted",
        make("ConfigMap", deletionTimestamp="2026-01-01T00:00:00Z"),
        (Health.PROGRESSING, "being deleted"),
    ),
    ("missing", None, (Health.MISSING, "not found in the cluster")),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assess_object(obj: dict[str, Any] | None, expected: tuple[Health, str]) -> None:
    assert assess_object(obj) == expected
    if expected[0] is not Health.HEALTHY:
        assert expected[1], "every verdict but Healthy explains itself"


def test_a_kind_in_another_group_does_not_borrow_a_builtin_rule() -> None:
    fake = make("Deployment", "example.com/v1", spec={"replicas": 5})
    assert assess_object(fake)[0] is Health.HEALTHY


def test_assess_health_is_the_worst_of_the_objects() -> None:
    ready = make("ConfigMap")
    progressing = deploy()
    assert assess_health([ready, progressing]) is Health.PROGRESSING
    assert assess_health([ready, progressing, None]) is Health.MISSING
    assert assess_health([ready]) is Health.HEALTHY
    assert assess_health([]) is Health.HEALTHY


# -- what it deploys: jobs, cronjobs, autoscalers, claims, load balancers, custom resources -----


def cronjob(**status: Any) -> dict[str, Any]:
    return make("CronJob", "batch/v1", spec={"schedule": "*/5 * * * *"}, status=status)


SCHEDULED = "2026-01-01T10:05:00Z"
FAILED_RUN = (Health.DEGRADED, f"the run scheduled at {SCHEDULED} did not succeed")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (cronjob(), HEALTHY),
        (cronjob(lastScheduleTime=SCHEDULED, lastSuccessfulTime="2026-01-01T10:05:40Z"), HEALTHY),
        (cronjob(lastScheduleTime=SCHEDULED, lastSuccessfulTime=SCHEDULED), HEALTHY),
        (cronjob(lastScheduleTime=SCHEDULED, active=[{"name": "x-1"}]), HEALTHY),
        (
            cronjob(lastScheduleTime=SCHEDULED, lastSuccessfulTime="2026-01-01T10:00:40Z"),
            FAILED_RUN,
        ),
        (cronjob(lastScheduleTime=SCHEDULED), FAILED_RUN),
        (cronjob(lastScheduleTime=SCHEDULED, active=[]), FAILED_RUN),
    ],
    ids=[
        "never-ran",
        "last-succeeded",
        "succeeded-within-its-second",
        "running",
        "last-failed",
        "never-succeeded",
        "none-active",
    ],
)
def test_a_cronjob_whose_last_run_failed_is_degraded(
    obj: dict[str, Any], expected: tuple[Health, str]
) -> None:
    assert assess_object(obj) == expected


def test_a_job_is_healthy_complete_degraded_failed_and_progressing_while_it_runs() -> None:
    job = make("Job", "batch/v1", spec={}, status={"active": 1})
    assert assess_object(job) == (Health.PROGRESSING, "job is running")
    job["status"] = {"conditions": [cond("Failed", "True", "BackoffLimitExceeded", "")]}
    assert assess_object(job) == (Health.DEGRADED, "BackoffLimitExceeded")
    job["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}  # nothing said
    assert assess_object(job) == (Health.DEGRADED, "job failed")
    job["status"] = {"conditions": [cond("Complete", "True")]}
    assert assess_object(job)[0] is Health.HEALTHY


def test_an_autoscaler_without_metrics_is_degraded_with_the_condition_s_reason() -> None:
    hpa = make(
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        status={
            "conditions": [
                cond("AbleToScale", "True", "SucceededGetScale"),
                cond(
                    "ScalingActive",
                    "False",
                    "FailedGetResourceMetric",
                    "the HPA was unable to compute the replica count: no metrics returned",
                ),
            ]
        },
    )
    assert assess_object(hpa) == (
        Health.DEGRADED,
        "ScalingActive is False (FailedGetResourceMetric): the HPA was unable to compute the "
        "replica count: no metrics returned",
    )


def claim(storage_class: str | None) -> dict[str, Any]:
    spec = {"storageClassName": storage_class} if storage_class else {}
    return make("PersistentVolumeClaim", spec=spec, status={"phase": "Pending"})


def test_a_claim_waiting_for_its_first_consumer_is_healthy() -> None:
    facts = ClusterFacts(first_consumer_classes=frozenset({"local"}), default_class="local")
    assert assess_object(claim("local"), facts) == (
        Health.HEALTHY,
        "waiting for its first consumer (storage class local is WaitForFirstConsumer)",
    )
    assert assess_object(claim(None), facts)[0] is Health.HEALTHY
    no_phase_yet = make("PersistentVolumeClaim", spec={"storageClassName": "local"})
    assert assess_object(no_phase_yet, facts)[0] is Health.HEALTHY
    assert assess_object(claim("fast"), facts)[0] is Health.PROGRESSING
    assert assess_object(claim("local"))[0] is Health.PROGRESSING


def test_a_load_balancer_without_an_address_is_progressing() -> None:
    lb = make("Service", spec={"type": "LoadBalancer"}, status={"loadBalancer": {}})
    assert assess_object(lb) == (Health.PROGRESSING, "waiting for a load balancer address")
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    assert assess_object(lb)[0] is Health.HEALTHY


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("Ready", "True"), Health.HEALTHY),
        (cond("Ready", "False", "Provisioning", "creating the bucket"), Health.PROGRESSING),
        (cond("Ready", "False", "AccessDenied", "credentials refused"), Health.DEGRADED),
        (cond("Available", "False", "MinimumReplicasUnavailable"), Health.DEGRADED),
        (cond("Available", "True"), Health.HEALTHY),
    ],
)
def test_custom_resources_are_judged_by_their_standard_conditions(
    condition: dict[str, str], expected: Health
) -> None:
    bucket = make("Bucket", "storage.example.com/v1", status={"conditions": [condition]})
    assert assess_object(bucket)[0] is expected


def test_a_pair_s_message_names_the_objects_that_keep_it_from_healthy_worst_first() -> None:
    objects = [
        ObjectHealth(ResourceKey("", "ConfigMap", "web", "a"), Health.HEALTHY),
        ObjectHealth(
            ResourceKey("apps", "Deployment", "web", "api"),
            Health.PROGRESSING,
            "1 of 3 updated replicas available",
        ),
        ObjectHealth(ResourceKey("batch", "Job", "web", "seed"), Health.DEGRADED, "job failed"),
    ]
    assert describe_unhealthy(objects) == (
        "batch/Job/web/seed: Degraded (job failed); "
        "apps/Deployment/web/api: Progressing (1 of 3 updated replicas available)"
    )
    assert describe_unhealthy(objects[:1]) == ""


def test_a_waiting_container_is_named_or_marked_unnamed_and_its_reason_stands_for_a_message() -> (
    None
):
    waiting = {"state": {"waiting": {"reason": "ImagePullBackOff"}}}
    pod = make("Pod", status={"phase": "Pending", "containerStatuses": [waiting]})
    assert assess_object(pod) == (Health.DEGRADED, "container ?: ImagePullBackOff")


def test_a_custom_resource_reconciling_says_what_its_controller_says() -> None:
    gizmo = make(
        "Gizmo",
        "example.com/v1",
        status={"conditions": [cond("Reconciling", "True", "Progressing", "2 of 3 replicas")]},
    )
    assert assess_object(gizmo) == (Health.PROGRESSING, "2 of 3 replicas")
    gizmo["status"] = {"conditions": [{"type": "Reconciling", "status": "True"}]}
    assert assess_object(gizmo) == (Health.PROGRESSING, "reconciling")


def test_a_pair_s_message_shows_three_unhealthy_objects_and_counts_the_rest() -> None:
    def progressing(name: str) -> ObjectHealth:
        return ObjectHealth(ResourceKey("apps", "Deployment", "web", name), Health.PROGRESSING)

    objects = [
        ObjectHealth(ResourceKey("apps", "Deployment", "web", "paused"), Health.SUSPENDED, "p"),
        *(progressing(name) for name in ("a", "b", "c", "d", "e")),
        ObjectHealth(ResourceKey("", "ConfigMap", "web", "gone"), Health.MISSING),
    ]
    assert describe_unhealthy(objects) == (
        "core/ConfigMap/web/gone: Missing; apps/Deployment/web/a: Progressing; "
        "apps/Deployment/web/b: Progressing; 3 more not healthy"
    )
    assert describe_unhealthy(objects[:4]) == (
        "apps/Deployment/web/a: Progressing; apps/Deployment/web/b: Progressing; "
        "apps/Deployment/web/c: Progressing"
    )


def test_only_a_claim_not_yet_bound_needs_the_cluster_s_facts() -> None:
    bound = make("PersistentVolumeClaim", status={"phase": "Bound"})
    assert needs_facts([None, make("ConfigMap"), bound]) is False
    assert needs_facts([bound, claim("local")]) is True
    assert needs_facts([make("PersistentVolumeClaim")]) is True


@pytest.mark.parametrize(
    "reason",
    [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    ],
)
def test_a_container_waiting_on_what_will_not_pass_by_itself_degrades_its_pod(
    reason: str,
) -> None:
    waiting = {"name": "api", "state": {"waiting": {"reason": reason}}}
    pod = make("Pod", status={"phase": "Pending", "containerStatuses": [waiting]})
    assert assess_object(pod) == (Health.DEGRADED, f"container api: {reason}")


@pytest.mark.parametrize(
    "reason",
    ["Progressing", "Reconciling", "Pending", "InProgress", "Creating", "Updating", "Provisioning"],
)
def test_a_custom_resource_not_ready_on_its_way_is_progressing(reason: str) -> None:
    bucket = make(
        "Bucket", "storage.example.com/v1", status={"conditions": [cond("Ready", "False", reason)]}
    )
    assert assess_object(bucket) == (Health.PROGRESSING, reason)
