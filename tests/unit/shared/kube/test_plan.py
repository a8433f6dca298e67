"""Apply order: stages, then waves, then the kind table, then names; prune is the reverse."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.plan import (
    KIND_ORDER,
    PlanError,
    Stage,
    group_kind,
    plan_apply,
    plan_prune,
    stage_of,
    wave_of,
)


def obj(
    kind: str,
    name: str = "x",
    *,
    api: str = "v1",
    ns: str | None = None,
    wave: str | None = None,
    argo_wave: str | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns:
        metadata["namespace"] = ns
    annotations = {}
    if wave is not None:
        annotations["fleetsync.io/sync-wave"] = wave
    if argo_wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = argo_wave
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


def order(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for s in plan_apply(objects) for o in s.objects]


@pytest.mark.parametrize(
    ("manifest", "stage"),
    [
        (obj("CustomResourceDefinition", api="apiextensions.k8s.io/v1"), Stage.DEFINITIONS),
        (obj("Namespace"), Stage.DEFINITIONS),
        (obj("ClusterRole", api="rbac.authorization.k8s.io/v1"), Stage.DEFINITIONS),
        (obj("StorageClass", api="storage.k8s.io/v1"), Stage.DEFINITIONS),
        (obj("PriorityClass", api="scheduling.k8s.io/v1"), Stage.DEFINITIONS),
        (obj("IngressClass", api="networking.k8s.io/v1"), Stage.DEFINITIONS),
        (obj("ClusterRoleBinding", api="rbac.authorization.k8s.io/v1"), Stage.RESOURCES),
        (obj("Deployment", api="apps/v1"), Stage.RESOURCES),
        (obj("ConfigMap"), Stage.RESOURCES),
        (obj("GatewayClass", api="gateway.networking.k8s.io/v1"), Stage.RESOURCES),
        (obj("Namespace", api="example.com/v1"), Stage.RESOURCES),
    ],
)
def test_stage_of_kind(manifest: dict[str, Any], stage: Stage) -> None:
    assert stage_of(manifest) is stage


@pytest.mark.parametrize(
    ("manifest", "wave"),
    [
        (obj("ConfigMap"), 0),
        (obj("ConfigMap", wave="3"), 3),
        (obj("ConfigMap", wave=" -2 "), -2),
        (obj("ConfigMap", argo_wave="5"), 5),
        (obj("ConfigMap", wave="1", argo_wave="5"), 1),
    ],
)
def test_wave_of_reads_fleetsync_then_argo_annotation(manifest: dict[str, Any], wave: int) -> None:
    assert wave_of(manifest) == wave


def test_a_wave_that_is_not_an_integer_names_the_object_and_the_annotation() -> None:
    with pytest.raises(PlanError) as refused:
        wave_of(obj("ConfigMap", ns="web", argo_wave=" soon "))
    assert str(refused.value) == (
        "core/ConfigMap/web/x: annotation argocd.argoproj.io/sync-wave: 'soon' is not an integer; "
        "use a whole number such as -1, 0 or 5"
    )


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(
            [obj("Deployment", "api", api="apps/v1"), obj("Namespace", "web")],
            ["Namespace/web", "Deployment/api"],
            id="namespace-stage-before-workloads",
        ),
        pytest.param(
            [
                obj("Widget", "w", api="example.com/v1"),
                obj("CustomResourceDefinition", "widgets", api="apiextensions.k8s.io/v1"),
            ],
            ["CustomResourceDefinition/widgets", "Widget/w"],
            id="crd-before-its-custom-objects",
        ),
        pytest.param(
            [
                obj("Deployment", "api", api="apps/v1"),
                obj("Service", "api"),
                obj("ConfigMap", "cfg"),
                obj("Secret", "s"),
                obj("ServiceAccount", "sa"),
                obj("Ingress", "web", api="networking.k8s.io/v1"),
                obj("Job", "migrate", api="batch/v1"),
            ],
            [
                "ServiceAccount/sa",
                "Secret/s",
                "ConfigMap/cfg",
                "Service/api",
                "Deployment/api",
                "Job/migrate",
                "Ingress/web",
            ],
            id="kind-table-within-a-step",
        ),
        pytest.param(
            [obj("Widget", "a", api="example.com/v1"), obj("Deployment", "z", api="apps/v1")],
            ["Deployment/z", "Widget/a"],
            id="unknown-kinds-last",
        ),
        pytest.param(
            [
                obj("ConfigMap", "late", wave="1"),
                obj("Deployment", "early", api="apps/v1", wave="-1"),
                obj("Secret", "mid"),
            ],
            ["Deployment/early", "Secret/mid", "ConfigMap/late"],
            id="waves-before-kinds",
        ),
        pytest.param(
            [obj("Namespace", "late-ns", wave="9"), obj("ConfigMap", "early", wave="-5")],
            ["Namespace/late-ns", "ConfigMap/early"],
            id="stages-before-waves",
        ),
        pytest.param(
            [obj("ConfigMap", "b", ns="y"), obj("ConfigMap", "a", ns="z"), obj("ConfigMap", "c")],
            ["ConfigMap/c", "ConfigMap/b", "ConfigMap/a"],
            id="namespace-then-name-breaks-ties",
        ),
    ],
)
def test_plan_apply_orders(objects: list[dict[str, Any]], expected: list[str]) -> None:
    assert order(objects) == expected
    assert order(list(reversed(objects))) == expected


def test_plan_apply_groups_objects_into_one_step_per_stage_and_wave() -> None:
    steps = plan_apply(
        [
            obj("Namespace", "web"),
            obj("ConfigMap", "a"),
            obj("ConfigMap", "b", wave="2"),
            obj("Secret", "c"),
        ]
    )
    assert [(s.stage, s.wave, len(s.objects)) for s in steps] == [
        (Stage.DEFINITIONS, 0, 1),
        (Stage.RESOURCES, 0, 2),
        (Stage.RESOURCES, 2, 1),
    ]
    assert str(steps[2]) == "stage 2 wave 2"


def test_plan_prune_is_the_apply_order_reversed() -> None:
    objects = [
        obj("Namespace", "web"),
        obj("Deployment", "api", api="apps/v1"),
        obj("Service", "s"),
    ]
    assert [o["kind"] for o in plan_prune(objects)] == ["Deployment", "Service", "Namespace"]


def test_every_kind_in_the_order_table_is_listed_once() -> None:
    assert len(KIND_ORDER) == len(set(KIND_ORDER))


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"apiVersion": "apps/v1", "kind": "Deployment"}, ("apps", "Deployment")),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, ("", "ConfigMap")),
        ({"kind": "ConfigMap"}, ("", "ConfigMap")),
        ({"apiVersion": "example.com/v1"}, ("example.com", "")),
    ],
    ids=["grouped", "core", "no-apiversion", "no-kind"],
)
def test_group_kind_is_the_group_of_the_apiversion_and_the_kind(
    manifest: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert group_kind(manifest) == expected
