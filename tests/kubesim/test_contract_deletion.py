"""Deletion: finalizers, propagation policies, owner-reference GC, namespace termination."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ForbiddenError, NotFoundError

from tests.kubesim.conftest import unique
from tests.kubesim.manifests import configmap, eventually


def cms(dyn: DynamicClient):  # type: ignore[no-untyped-def]
    return dyn.resources.get(api_version="v1", kind="ConfigMap")


def exists(dyn: DynamicClient, name: str, namespace: str) -> bool:
    try:
        cms(dyn).get(name=name, namespace=namespace)
    except NotFoundError:
        return False
    return True


def owned_by(owner: Any, name: str) -> dict[str, Any]:
    return configmap(
        name,
        ownerReferences=[
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner.metadata.name,
                "uid": owner.metadata.uid,
                "blockOwnerDeletion": True,
            }
        ],
    )


def test_finalizer_holds_the_object_until_it_is_removed(dyn: DynamicClient, namespace: str) -> None:
    cms(dyn).create(body=configmap("held", finalizers=["example.com/hold"]), namespace=namespace)
    cms(dyn).delete(name="held", namespace=namespace)
    held = cms(dyn).get(name="held", namespace=namespace)
    assert held.metadata.deletionTimestamp
    cms(dyn).patch(
        name="held",
        namespace=namespace,
        body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    eventually(lambda: not exists(dyn, "held", namespace))


def test_background_deletion_collects_dependents(dyn: DynamicClient, namespace: str) -> None:
    owner = cms(dyn).create(body=configmap("owner"), namespace=namespace)
    cms(dyn).create(body=owned_by(owner, "dependent"), namespace=namespace)
    cms(dyn).delete(name="owner", namespace=namespace, propagation_policy="Background")
    eventually(lambda: not exists(dyn, "dependent", namespace))


def test_orphan_deletion_keeps_dependents_without_the_owner_reference(
    dyn: DynamicClient, namespace: str
) -> None:
    owner = cms(dyn).create(body=configmap("owner"), namespace=namespace)
    cms(dyn).create(body=owned_by(owner, "dependent"), namespace=namespace)
    cms(dyn).delete(name="owner", namespace=namespace, propagation_policy="Orphan")
    eventually(lambda: not exists(dyn, "owner", namespace))
    dependent = cms(dyn).get(name="dependent", namespace=namespace)
    assert not dependent.metadata.ownerReferences


def test_foreground_deletion_removes_dependents_before_the_owner(
    dyn: DynamicClient, namespace: str
) -> None:
    owner = cms(dyn).create(body=configmap("owner"), namespace=namespace)
    cms(dyn).create(body={**owned_by(owner, "dependent")}, namespace=namespace)
    cms(dyn).patch(
        name="dependent",
        namespace=namespace,
        body={"metadata": {"finalizers": ["example.com/hold"]}},
        content_type="application/merge-patch+json",
    )
    cms(dyn).delete(name="owner", namespace=namespace, propagation_policy="Foreground")
    waiting = cms(dyn).get(name="owner", namespace=namespace)
    assert "foregroundDeletion" in waiting.metadata.finalizers
    cms(dyn).patch(
        name="dependent",
        namespace=namespace,
        body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    eventually(lambda: not exists(dyn, "owner", namespace))
    assert not exists(dyn, "dependent", namespace)


def test_namespace_deletion_cascades_to_its_contents(dyn: DynamicClient) -> None:
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    name = unique("cascade")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    cms(dyn).create(body=configmap("inside"), namespace=name)
    namespaces.delete(name=name)

    def gone() -> bool:
        try:
            namespaces.get(name=name)
        except NotFoundError:
            return True
        return False

    eventually(gone, timeout=60)
    assert not exists(dyn, "inside", name)


def test_writes_into_a_terminating_namespace_are_refused(
    dyn: DynamicClient, namespace: str
) -> None:
    cms(dyn).create(body=configmap("held", finalizers=["example.com/hold"]), namespace=namespace)
    dyn.resources.get(api_version="v1", kind="Namespace").delete(name=namespace)
    with pytest.raises(ForbiddenError) as err:
        cms(dyn).create(body=configmap("late"), namespace=namespace)
    status = json.loads(err.value.body)
    assert "being terminated" in status["message"]
    cms(dyn).patch(
        name="held",
        namespace=namespace,
        body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
