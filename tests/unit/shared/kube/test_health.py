"""Health rules, one table row per situation a controller reports."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.health import (
    ClusterFacts,
    ObjectHealth,
    assess_health,
    assess_object,
    describe_unhealthy,
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
    ("deployment-rolled-out", deploy(ROLLED_OUT), Health.HEALTHY),
    ("deployment-no-status-yet", deploy(), Health.PROGRESSING),
    (
        "deployment-old-generation",
        deploy({**ROLLED_OUT, "observedGeneration": 2}),
        Health.PROGRESSING,
    ),
    ("deployment-updating", deploy({**ROLLED_OUT, "updatedReplicas": 1}), Health.PROGRESSING),
    ("deployment-old-replicas", deploy({**ROLLED_OUT, "replicas": 3}), Health.PROGRESSING),
    (
        "deployment-unavailable",
        deploy({**ROLLED_OUT, "availableReplicas": 1}),
        Health.PROGRESSING,
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
        Health.DEGRADED,
    ),
    ("deployment-paused", deploy(paused=True), Health.SUSPENDED),
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
        Health.HEALTHY,
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
        Health.HEALTHY,
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
        Health.PROGRESSING,
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
        Health.PROGRESSING,
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
        Health.HEALTHY,
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
        Health.HEALTHY,
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
        Health.PROGRESSING,
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
        Health.HEALTHY,
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
        Health.DEGRADED,
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
        Health.HEALTHY,
    ),
    # Job and CronJob
    (
        "job-complete",
        make("Job", "batch/v1", status={"conditions": [cond("Complete", "True")]}),
        Health.HEALTHY,
    ),
    (
        "job-failed",
        make("Job", "batch/v1", status={"conditions": [cond("Failed", "True")]}),
        Health.DEGRADED,
    ),
    ("job-running", make("Job", "batch/v1", status={"active": 1}), Health.PROGRESSING),
    ("job-suspended", make("Job", "batch/v1", spec={"suspend": True}), Health.SUSPENDED),
    ("cronjob-active", make("CronJob", "batch/v1", spec={"suspend": False}), Health.HEALTHY),
    ("cronjob-suspended", make("CronJob", "batch/v1", spec={"suspend": True}), Health.SUSPENDED),
    # Pod
    (
        "pod-running-ready",
        make(
            "Pod", status={"phase": "Running", "containerStatuses": [{"name": "a", "ready": True}]}
        ),
        Health.HEALTHY,
    ),
    (
        "pod-running-not-ready",
        make(
            "Pod", status={"phase": "Running", "containerStatuses": [{"name": "a", "ready": False}]}
        ),
        Health.PROGRESSING,
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
        Health.DEGRADED,
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
        Health.DEGRADED,
    ),
    ("pod-pending", make("Pod", status={"phase": "Pending"}), Health.PROGRESSING),
    ("pod-succeeded", make("Pod", status={"phase": "Succeeded"}), Health.HEALTHY),
    ("pod-failed", make("Pod", status={"phase": "Failed"}), Health.DEGRADED),
    ("pod-no-phase", make("Pod", status={}), Health.UNKNOWN),
    # PVC, Service, CRD, Namespace, HPA
    ("pvc-bound", make("PersistentVolumeClaim", status={"phase": "Bound"}), Health.HEALTHY),
    ("pvc-pending", make("PersistentVolumeClaim", status={"phase": "Pending"}), Health.PROGRESSING),
    ("pvc-lost", make("PersistentVolumeClaim", status={"phase": "Lost"}), Health.DEGRADED),
    ("service-clusterip", make("Service", spec={"type": "ClusterIP"}), Health.HEALTHY),
    (
        "service-lb-waiting",
        make("Service", spec={"type": "LoadBalancer"}, status={}),
        Health.PROGRESSING,
    ),
    (
        "service-lb-assigned",
        make(
            "Service",
            spec={"type": "LoadBalancer"},
            status={"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
        ),
        Health.HEALTHY,
    ),
    (
        "crd-established",
        make(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            status={"conditions": [cond("Established", "True")]},
        ),
        Health.HEALTHY,
    ),
    (
        "crd-not-yet",
        make("CustomResourceDefinition", "apiextensions.k8s.io/v1", status={}),
        Health.PROGRESSING,
    ),
    (
        "crd-names-refused",
        make(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            status={"conditions": [cond("NamesAccepted", "False", "NameConflict")]},
        ),
        Health.DEGRADED,
    ),
    ("namespace-active", make("Namespace", status={"phase": "Active"}), Health.HEALTHY),
    (
        "namespace-terminating",
        make("Namespace", status={"phase": "Terminating"}),
        Health.PROGRESSING,
    ),
    (
        "hpa-cannot-scale",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("AbleToScale", "False", "FailedGetScale")]},
        ),
        Health.DEGRADED,
    ),
    (
        "hpa-scaling",
        make(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            status={"conditions": [cond("AbleToScale", "True"), cond("ScalingActive", "True")]},
        ),
        Health.HEALTHY,
    ),
    # Any kind: standard conditions, else healthy once it exists
    (
        "custom-ready",
        make("Widget", "example.com/v1", status={"conditions": [cond("Ready", "True")]}),
        Health.HEALTHY,
    ),
    (
        "custom-not-ready-failed",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Ready", "False", "InstallFailed", "boom")]},
        ),
        Health.DEGRADED,
    ),
    (
        "custom-not-ready-progressing",
        make(
            "Widget",
            "example.com/v1",
            status={"conditions": [cond("Ready", "False", "Progressing")]},
        ),
        Health.PROGRESSING,
    ),
    (
        "custom-ready-unknown",
        make("Widget", "example.com/v1", status={"conditions": [cond("Ready", "Unknown")]}),
        Health.PROGRESSING,
    ),
    (
        "custom-available-false",
        make(
            "Widget", "example.com/v1", status={"conditions": [cond("Available", "False", "Oops")]}
        ),
        Health.DEGRADED,
    ),
    (
        "custom-stalled",
        make("Widget", "example.com/v1", status={"conditions": [cond("Stalled", "True")]}),
        Health.DEGRADED,
    ),
    (
        "custom-old-generation",
        make(
            "Widget",
            "example.com/v1",
            generation=2,
            status={"observedGeneration": 1, "conditions": [cond("Ready", "True")]},
        ),
        Health.PROGRESSING,
    ),
    ("configmap-exists", make("ConfigMap"), Health.HEALTHY),
    (
        "being-deleted",
        make("ConfigMap", deletionTimestamp="2026-01-01T00:00:00Z"),
        Health.PROGRESSING,
    ),
    ("missing", None, Health.MISSING),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assess_object(obj: dict[str, Any] | None, expected: Health) -> None:
    health, message = assess_object(obj)
    assert health is expected
    if expected not in (Health.HEALTHY,):
        assert message, "every verdict but Healthy explains itself"


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


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (cronjob(), Health.HEALTHY),
        (
            cronjob(
                lastScheduleTime="2026-01-01T10:05:00Z", lastSuccessfulTime="2026-01-01T10:05:40Z"
            ),
            Health.HEALTHY,
        ),
        (
            cronjob(lastScheduleTime="2026-01-01T10:05:00Z", active=[{"name": "x-1"}]),
            Health.HEALTHY,
        ),
        (
            cronjob(
                lastScheduleTime="2026-01-01T10:05:00Z", lastSuccessfulTime="2026-01-01T10:00:40Z"
            ),
            Health.DEGRADED,
        ),
        (cronjob(lastScheduleTime="2026-01-01T10:05:00Z"), Health.DEGRADED),
    ],
    ids=["never-ran", "last-succeeded", "running", "last-failed", "never-succeeded"],
)
def test_a_cronjob_whose_last_run_failed_is_degraded(obj: dict[str, Any], expected: Health) -> None:
    assert assess_object(obj)[0] is expected


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
