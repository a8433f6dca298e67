"""The one table of what Kubernetes serves itself, read by rendering (which kinds are
namespaced) and planning (which objects the server defaults and respells)."""

from __future__ import annotations

from fleetsync.shared.kube.plan import is_builtin
from fleetsync.shared.model.builtin_kinds import BUILTIN_GROUPS, CLUSTER_SCOPED


def test_every_cluster_scoped_kind_belongs_to_a_built_in_group() -> None:
    assert {group for group, _ in CLUSTER_SCOPED} <= BUILTIN_GROUPS


def test_a_built_in_group_s_object_is_built_in_and_a_crd_s_group_is_not() -> None:
    assert is_builtin({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget"})
    assert is_builtin({"apiVersion": "v1", "kind": "ConfigMap"})
    assert not is_builtin({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"})
