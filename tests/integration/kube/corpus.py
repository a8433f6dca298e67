"""Real-world objects for holding the no-op prediction to a real API server's answers.

Each `Case` is a manifest as a user writes it (some minimal, some with every default spelled out,
quantities in unusual spellings, Secrets with stringData, custom resources of a CRD with a
structural schema and defaults) and the edits another field manager makes to it: an `Edit` is a
strategic merge patch (as `kubectl edit` sends it for a built-in kind), a merge patch (for a
custom resource) or a forced server-side apply as another manager.
Names are made unique by the caller's namespace and suffix, so the cases can share real clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Edit:
    name: str
    body: Mapping[str, Any]
    how: Literal["strategic", "merge", "apply"] = "strategic"
    manager: str = "kubectl-edit"


@dataclass(frozen=True)
class Case:
    name: str
    manifest: Manifest
    edits: tuple[Edit, ...] = ()
    needs: tuple[Manifest, ...] = field(default_factory=tuple)
    """Objects to apply first (a CRD before its custom resources)."""


def _meta(name: str, ns: str | None, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"tier": "corpus"}, **extra}
    if ns is not None:
        metadata["namespace"] = ns
    return metadata


def _pod_spec(
    name: str, *, resources: Mapping[str, Any] | None = None, full: bool = False
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": f"example/{name}:1"}
    if resources is not None:
        container["resources"] = dict(resources)
    if not full:
        return {"containers": [container]}
    container.update(
        {
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "env": [{"name": "MODE", "value": "fast"}],
        }
    )
    return {
        "containers": [container],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }


def _labels_edit(how: Literal["strategic", "merge"] = "strategic") -> tuple[Edit, ...]:
    """Edits any object takes: a label fleetsync declares changed, another label added."""
    return (
        Edit("declared label changed", {"metadata": {"labels": {"tier": "edited"}}}, how=how),
        Edit("undeclared label added", {"metadata": {"labels": {"team": "other"}}}, how=how),
    )


def deployment(ns: str, *, full: bool, resources: Mapping[str, Any] | None = None) -> Manifest:
    name = "api-full" if full else "api"
    spec: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": _pod_spec(name, resources=resources, full=full),
        },
    }
    if full:
        spec.update(
            {
                "progressDeadlineSeconds": 600,
                "revisionHistoryLimit": 10,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            }
        )
        spec["template"]["metadata"]["creationTimestamp"] = None
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns),
        "spec": spec,
    }


def corpus(ns: str, suffix: str) -> list[Case]:
    """Every case, its names made unique by `ns` (namespaced) and `suffix` (cluster-scoped)."""
    group = f"corpus{suffix}.example.com"
    crd = gadget_crd(group)
    cases = [
        Case(
            "deployment-minimal",
            deployment(ns, full=False),
            (
                *_labels_edit(),
                Edit("replicas scaled by hand", {"spec": {"replicas": 5}}),
                Edit(
                    "replicas taken by an autoscaler",
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": "api"},
                        "spec": {"replicas": 3},
                    },
                    how="apply",
                    manager="hpa",
                ),
                Edit(
                    "replicas applied with the same value by another manager",
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": "api"},
                        "spec": {"replicas": 2},
                    },
                    how="apply",
                    manager="argo",
                ),
                Edit(
                    "image changed by hand",
                    {
                        "spec": {
                            "template": {
                                "spec": {"containers": [{"name": "api", "image": "example/api:2"}]}
                            }
                        }
                    },
                ),
            ),
        ),
        Case(
            "deployment-defaults-spelled-out",
            deployment(ns, full=True),
            (
                *_labels_edit(),
                Edit(
                    "strategy changed by hand",
                    {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}},
                ),
                Edit(
                    "env value changed by hand",
                    {
                        "spec": {
                            "template": {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "api-full",
                                            "env": [{"name": "MODE", "value": "slow"}],
                                        }
                                    ]
                                }
                            }
                        }
                    },
                ),
            ),
        ),
        Case(
            "deployment-quantities",
            {
                **deployment(
                    ns,
                    full=False,
                    resources={
                        "requests": {
                            "cpu": "2000m",
                            "memory": "1Gi",
                            "ephemeral-storage": "1024Mi",
                        },
                        "limits": {"cpu": 4, "memory": "1.5Gi"},
                    },
                ),
                "metadata": _meta("api-quantities", ns),
            },
            (
                Edit(
                    "cpu request changed to an equal quantity by hand",
                    {
                        "spec": {
                            "template": {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "api",
                                            "image": "example/api:1",
                                            "resources": {"requests": {"cpu": "2"}},
                                        }
                                    ]
                                }
                            }
                        }
                    },
                ),
                Edit(
                    "cpu request changed by hand",
                    {
                        "spec": {
                            "template": {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "api",
                                            "image": "example/api:1",
                                            "resources": {"requests": {"cpu": "1500m"}},
                                        }
                                    ]
                                }
                            }
                        }
                    },
                ),
            ),
        ),
        Case(
            "statefulset",
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": _meta("db", ns),
                "spec": {
                    "serviceName": "db",
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": _pod_spec("db", resources={"requests": {"cpu": "0.5"}}),
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Gi"}},
                            },
                        }
                    ],
                },
            },
            (
                *_labels_edit(),
                Edit(
                    "partition set by hand",
                    {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}},
                ),
            ),
        ),
        Case(
            "cronjob",
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": _meta("nightly", ns),
                "spec": {
                    "schedule": "0 3 * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    **_pod_spec(
                                        "nightly", resources={"limits": {"memory": "512Mi"}}
                                    ),
                                    "restartPolicy": "OnFailure",
                                }
                            }
                        }
                    },
                },
            },
            (*_labels_edit(), Edit("suspended by hand", {"spec": {"suspend": True}})),
        ),
        Case(
            "service-ports",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta("web", ns),
                "spec": {
                    "selector": {"app": "web"},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http"},
                        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
                    ],
                },
            },
            (
                *_labels_edit(),
                Edit(
                    "target port changed by hand",
                    {
                        "spec": {
                            "ports": [
                                {"name": "http", "port": 80, "targetPort": 8081},
                                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
                            ]
                        }
                    },
                ),
                Edit(
                    "a port added by another manager",
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": "web"},
                        "spec": {"ports": [{"name": "metrics", "port": 9090}]},
                    },
                    how="apply",
                    manager="mesh",
                ),
            ),
        ),
        Case(
            "service-defaults-spelled-out",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta("web-full", ns),
                "spec": {
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
                },
            },
            _labels_edit(),
        ),
        Case(
            "ingress",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": _meta(
                    "web", ns, annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/"}
                ),
                "spec": {
                    "rules": [
                        {
                            "host": "web.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {"name": "web", "port": {"number": 80}}
                                        },
                                    }
                                ]
                            },
                        }
                    ],
                    "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
                },
            },
            (
                *_labels_edit(),
                Edit(
                    "annotation changed by hand",
                    {
                        "metadata": {
                            "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/app"}
                        }
                    },
                ),
            ),
        ),
        Case(
            "hpa",
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": _meta("api", ns),
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "api",
                    },
                    "minReplicas": 2,
                    "maxReplicas": 10,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 70},
                            },
                        },
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "memory",
                                "target": {"type": "AverageValue", "averageValue": "0.5Gi"},
                            },
                        },
                    ],
                },
            },
            (*_labels_edit(), Edit("max replicas changed by hand", {"spec": {"maxReplicas": 4}})),
        ),
        Case(
            "pdb",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": _meta("api", ns),
                "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "api"}}},
            },
            (*_labels_edit(), Edit("min available changed by hand", {"spec": {"minAvailable": 1}})),
        ),
        Case(
            "networkpolicy",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": _meta("api", ns),
                "spec": {
                    "podSelector": {"matchLabels": {"app": "api"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                            "ports": [{"port": 8080}, {"port": "dns", "protocol": "UDP"}],
                        }
                    ],
                },
            },
            (
                *_labels_edit(),
                Edit(
                    "a port removed by hand",
                    {
                        "spec": {
                            "ingress": [
                                {
                                    "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                    "ports": [{"port": 8080}],
                                }
                            ]
                        }
                    },
                ),
            ),
        ),
        Case(
            "role",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": _meta("reader", ns),
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["get", "list"],
                    }
                ],
            },
            (
                *_labels_edit(),
                Edit(
                    "a verb added by hand",
                    {
                        "rules": [
                            {
                                "apiGroups": [""],
                                "resources": ["configmaps", "secrets"],
                                "verbs": ["get", "list", "watch"],
                            }
                        ]
                    },
                ),
            ),
        ),
        Case(
            "rolebinding",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": _meta("reader", ns),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "reader",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": ns}],
            },
            _labels_edit(),
        ),
        Case(
            "clusterrole",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": _meta(f"corpus-reader-{suffix}", None),
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}],
            },
            _labels_edit(),
        ),
        Case(
            "serviceaccount",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("api", ns)},
            _labels_edit(),
        ),
        Case(
            "configmap",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta("settings", ns),
                "data": {"mode": "fast", "replicas": "3"},
                "binaryData": {"blob": "AAEC"},
            },
            (
                *_labels_edit(),
                Edit("a value changed by hand", {"data": {"mode": "slow"}}),
                Edit("a key added by hand", {"data": {"extra": "1"}}),
            ),
        ),
        Case(
            "secret-stringdata",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta("creds", ns),
                "type": "Opaque",
                "stringData": {"username": "admin", "password": "s3cr3t"},
            },
            (
                *_labels_edit(),
                Edit("a value changed by hand", {"data": {"password": "b3RoZXI="}}),
                Edit("a key added by hand", {"data": {"extra": "eA=="}}),
            ),
        ),
        Case(
            "secret-data-and-stringdata",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta("mixed", ns),
                "data": {"token": "dG9rZW4="},
                "stringData": {"config.yaml": "mode: fast\n"},
            },
            (
                *_labels_edit(),
                Edit("the data key changed by hand", {"data": {"token": "b3RoZXI="}}),
            ),
        ),
        Case(
            "limitrange-quantities",
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": _meta("limits", ns),
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"cpu": "500m", "memory": "512Mi"},
                            "defaultRequest": {"cpu": 0.25, "memory": "0.25Gi"},
                            "max": {"cpu": "2000m", "memory": "2048Mi"},
                        }
                    ]
                },
            },
            _labels_edit(),
        ),
        Case(
            "resourcequota",
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": _meta("quota", ns),
                "spec": {"hard": {"requests.cpu": "4000m", "requests.memory": "8Gi", "pods": 10}},
            },
            (*_labels_edit(), Edit("a limit raised by hand", {"spec": {"hard": {"pods": "20"}}})),
        ),
        Case(
            "pvc",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _meta("data", ns),
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1024Mi"}},
                },
            },
            _labels_edit(),
        ),
        Case("crd", crd, _labels_edit("merge")),
        Case(
            "custom-resource-minimal",
            gadget(group, ns, "small", {"size": 2}),
            (
                *_labels_edit("merge"),
                Edit("a declared field changed by hand", {"spec": {"size": 7}}, how="merge"),
                Edit("a defaulted field changed by hand", {"spec": {"mode": "b"}}, how="merge"),
            ),
            needs=(crd,),
        ),
        Case(
            "custom-resource-defaults-spelled-out",
            gadget(
                group,
                ns,
                "full",
                {"size": 3, "mode": "a", "limits": {"cpu": "2000m"}, "extra": {"free": ["x", 1]}},
            ),
            (
                *_labels_edit("merge"),
                Edit(
                    "a free-form field changed by hand",
                    {"spec": {"extra": {"free": ["y"]}}},
                    how="merge",
                ),
            ),
            needs=(crd,),
        ),
    ]
    return cases


def gadget_crd(group: str) -> Manifest:
    """A CRD with a structural schema: defaults, an int-or-string, a free-form part, status."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}", "labels": {"tier": "corpus"}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "minimum": 1, "default": 1},
                                        "mode": {
                                            "type": "string",
                                            "enum": ["a", "b"],
                                            "default": "a",
                                        },
                                        "limits": {
                                            "type": "object",
                                            "additionalProperties": {
                                                "x-kubernetes-int-or-string": True
                                            },
                                        },
                                        "extra": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def gadget(group: str, ns: str, name: str, spec: Mapping[str, Any]) -> Manifest:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": _meta(name, ns),
        "spec": dict(spec),
    }
