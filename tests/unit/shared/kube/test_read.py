"""The LISTs a read of live objects sends first: one per kind, in the namespace its objects share
(else across namespaces), selecting the application's objects when they are all of one."""

from __future__ import annotations

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.read import MANAGED_SELECTOR, first_lists
from fleetsync.shared.kube.read_ahead import Read
from fleetsync.shared.kube.targets import Target
from fleetsync.shared.model import ResourceKey

CONFIG_MAPS = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
SECRETS = ApiResource(group="", version="v1", kind="Secret", plural="secrets", namespaced=True)


def target(resource: ApiResource, namespace: str, name: str, app: str | None = "web") -> Target:
    labels = {} if app is None else {"fleetsync.io/application": app}
    obj = {
        "apiVersion": "v1",
        "kind": resource.kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }
    return Target(ResourceKey.of(obj), resource, obj)


def test_one_list_per_kind_in_the_namespace_its_objects_share_else_across_namespaces() -> None:
    reads = first_lists(
        [
            target(CONFIG_MAPS, "a", "x"),
            target(SECRETS, "a", "s"),
            target(CONFIG_MAPS, "b", "y"),
            target(SECRETS, "a", "t"),
        ]
    )
    selector = f"{MANAGED_SELECTOR},fleetsync.io/application=web"
    assert reads == [
        Read(CONFIG_MAPS, "", selector=selector),
        Read(SECRETS, "a", selector=selector),
    ]


def test_objects_of_several_applications_or_of_none_are_selected_as_fleetsync_s_only() -> None:
    assert MANAGED_SELECTOR == "app.kubernetes.io/managed-by=fleetsync"
    mixed = [target(CONFIG_MAPS, "a", "x"), target(CONFIG_MAPS, "a", "y", app="api")]
    assert first_lists(mixed) == [Read(CONFIG_MAPS, "a", selector=MANAGED_SELECTOR)]
    unlabelled = [target(CONFIG_MAPS, "a", "x", app=None)]
    assert first_lists(unlabelled) == [Read(CONFIG_MAPS, "a", selector=MANAGED_SELECTOR)]
