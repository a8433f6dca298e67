"""Reading an application's live objects on kubesim: one LIST per kind where the credentials
allow it, narrower LISTs where they do not, a GET for each object no list showed, and the
cluster's storage classes only when a claim's health needs them."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.health import NO_FACTS, ClusterFacts
from fleetsync.shared.kube.ownership import mark_managed
from fleetsync.shared.kube.read import STORAGE_CLASSES, read_facts, read_live
from fleetsync.shared.kube.targets import Target
from fleetsync.shared.model import ResourceKey
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import config_map, namespace, sync

pytestmark = kubesim_only

STORAGE_DEFAULT = "storageclass.kubernetes.io/is-default-class"


def _targets(live: Live, *objects: dict[str, Any]) -> list[Target]:
    resource = live.client.resolve("v1", "ConfigMap")
    marked = [mark_managed(o, app=live.app, namespace=o["metadata"]["namespace"]) for o in objects]
    return [Target(ResourceKey.of(o), resource, o) for o in marked]


def _reads(live: Live, since: int) -> list[tuple[str, str, str]]:
    return [
        (r.verb, r.namespace, r.name)
        for r in live.sim.request_log()[since:]
        if r.resource == "configmaps"
    ]


def _two_namespaces(live: Live) -> tuple[str, str, list[Target]]:
    one, two = live.ns, live.unique("two")
    objects = [config_map("a", one), config_map("b", two)]
    sync(live, [namespace(one), namespace(two), *objects])
    live.operator.create(
        f"/api/v1/namespaces/{one}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-hand"}},
    )
    known = config_map("known", one)
    return one, two, _targets(live, *objects, config_map("by-hand", one), known)


def test_one_list_across_namespaces_then_a_get_for_what_it_did_not_show(live: Live) -> None:
    one, two, targets = _two_namespaces(live)
    since = len(live.sim.request_log())
    known = {targets[3].key: None}

    found = read_live(live.client, targets, known=known)

    assert {str(k): (v or {}).get("metadata", {}).get("name") for k, v in found.items()} == {
        f"core/ConfigMap/{one}/a": "a",
        f"core/ConfigMap/{two}/b": "b",
        f"core/ConfigMap/{one}/by-hand": "by-hand",
        f"core/ConfigMap/{one}/known": None,
    }
    assert _reads(live, since) == [("list", "", ""), ("get", one, "by-hand")]
    since = len(live.sim.request_log())
    assert read_live(live.client, targets[:1]) == {targets[0].key: found[targets[0].key]}
    assert _reads(live, since) == [("list", one, "")], "one namespace: listed there"


def test_a_list_refused_across_namespaces_is_made_per_namespace_and_one_refused_there_by_get(
    live: Live,
) -> None:
    one, two, targets = _two_namespaces(live)
    live.sim.forbid_lists("configmaps", namespaces=["", two])
    since = len(live.sim.request_log())
    try:
        found = read_live(live.client, targets[:3])
    finally:
        live.sim.clear_faults()

    assert {str(k) for k, v in found.items() if v is not None} == {
        f"core/ConfigMap/{one}/a",
        f"core/ConfigMap/{one}/by-hand",
        f"core/ConfigMap/{two}/b",
    }
    assert _reads(live, since) == [
        ("list", "", ""),
        ("list", two, ""),
        ("list", one, ""),
        ("get", two, "b"),
        ("get", one, "by-hand"),
    ]


def _claim(phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "web"},
        "status": {"phase": phase},
    }


def test_storage_classes_are_read_only_for_a_claim_not_bound_and_say_which_wait(
    live: Live,
) -> None:
    for name, mode, default in (
        ("later", "WaitForFirstConsumer", "false"),
        ("now", "Immediate", "true"),
        ("also-later", "WaitForFirstConsumer", None),
    ):
        annotations = {} if default is None else {STORAGE_DEFAULT: default}
        live.operator.create(
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": live.unique(name), "annotations": annotations},
                "provisioner": "example.com/none",
                "volumeBindingMode": mode,
            },
        )
    since = len(live.sim.request_log())

    assert read_facts(live.client, [None, _claim("Bound")]) is NO_FACTS
    assert [r for r in live.sim.request_log()[since:] if r.resource == "storageclasses"] == []
    facts = read_facts(live.client, [_claim("Bound"), None, _claim("Pending")])

    assert facts == ClusterFacts(
        first_consumer_classes=frozenset({live.unique("later"), live.unique("also-later")}),
        default_class=live.unique("now"),
    )


def test_storage_classes_the_credentials_may_not_list_are_no_facts(live: Live) -> None:
    live.sim.forbid_lists(STORAGE_CLASSES.plural)
    try:
        assert read_facts(live.client, [_claim("Pending")]) is NO_FACTS
    finally:
        live.sim.clear_faults()
