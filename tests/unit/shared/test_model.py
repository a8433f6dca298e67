"""The domain's values: how they print, parse, order and digest."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleetsync.shared.model import Health, ResourceKey, Revision
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    Selector,
    SelectorOperator,
    SelectorRequirement,
    Targets,
)
from fleetsync.shared.model.desired import Intents, Pin, RenderFailure, Variant
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName


def test_revision_prints_as_ref_at_sha1_and_parses_back() -> None:
    rev = Revision(ref="main", sha="a" * 40)
    assert str(rev) == "main@sha1:" + "a" * 40
    assert Revision.parse(str(rev)) == rev


def test_revision_parse_names_the_bad_text() -> None:
    with pytest.raises(ValueError, match="'nonsense'"):
        Revision.parse("nonsense")


def test_resource_key_of_core_and_cluster_scoped_objects_round_trips() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "web"}}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
    }
    assert str(ResourceKey.of(cm)) == "core/ConfigMap/web/cfg"
    assert str(ResourceKey.of(role)) == "rbac.authorization.k8s.io/ClusterRole/_/reader"
    for obj in (cm, role):
        key = ResourceKey.of(obj)
        assert ResourceKey.parse(str(key)) == key


def test_health_worst_of_is_the_highest_rank() -> None:
    assert Health.worst([Health.HEALTHY, Health.DEGRADED, Health.PROGRESSING]) is Health.DEGRADED
    assert Health.worst([Health.HEALTHY, Health.SUSPENDED]) is Health.SUSPENDED
    assert Health.worst([]) is Health.HEALTHY
    assert Health.UNKNOWN.rank > Health.DEGRADED.rank > Health.MISSING.rank


def test_bundle_digest_ignores_input_order_and_changes_with_content() -> None:
    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}
    b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "n"}}
    assert Bundle.of([a, b]).digest == Bundle.of([b, a]).digest
    changed = {**b, "data": {"k": "v"}}
    assert Bundle.of([a, changed]).digest != Bundle.of([a, b]).digest
    bundle = Bundle.of([a, b])
    assert Bundle.from_canonical(bundle.canonical()) == bundle


def test_a_bundle_computes_its_digest_once_and_equals_a_bundle_that_has_not_yet() -> None:
    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}
    bundle, other = Bundle.of([a]), Bundle.of([a])
    digest = bundle.digest
    assert bundle.digest is digest, "computed once (every reconcile of it asks again)"
    assert bundle == other and other.digest == digest
    assert "digest" not in repr(bundle)


def _fleet() -> Fleet:
    clusters = {
        ClusterName(n): Cluster(name=ClusterName(n), kubeconfig=f"/k/{n}", labels=labels)
        for n, labels in {
            "prod-eu": {"env": "prod", "region": "eu"},
            "prod-us": {"env": "prod", "region": "us"},
            "dev": {"env": "dev"},
        }.items()
    }
    app = Application(
        name=AppName("web"),
        repository=RepoName("platform"),
        path="apps/web",
        targets=Targets(
            clusters=(ClusterName("dev"),),
            selector=Selector(
                match_labels={"env": "prod"},
                match_expressions=(
                    SelectorRequirement("region", SelectorOperator.NOT_IN, ("us",)),
                ),
            ),
        ),
    )
    return Fleet(clusters=clusters, applications={app.name: app})


def test_targets_are_named_clusters_plus_selected_ones() -> None:
    assert _fleet().targets_of(AppName("web")) == ("dev", "prod-eu")


def test_a_fleet_with_other_clusters_selects_its_own_targets() -> None:
    """Targets are worked out once per fleet and application: a fleet made from another with
    other clusters (a new declaration) selects among its own."""
    fleet = _fleet()
    assert fleet.targets_of(AppName("web")) == ("dev", "prod-eu")
    moved = Cluster(name=ClusterName("prod-us"), kubeconfig="/k/prod-us", labels={"env": "prod"})

    other = replace(fleet, clusters={**fleet.clusters, moved.name: moved})

    assert other.targets_of(AppName("web")) == ("dev", "prod-eu", "prod-us")
    assert fleet.targets_of(AppName("web")) == ("dev", "prod-eu")
    assert other == replace(fleet, clusters=other.clusters), "answers kept are not compared"


def test_fleet_json_round_trip_keeps_every_field() -> None:
    fleet = _fleet()
    assert Fleet.from_json(fleet.to_json()) == fleet


def test_a_per_cluster_pin_and_a_cluster_s_render_failure_survive_their_stored_forms() -> None:
    old = Revision(ref="main", sha="a" * 40)
    new = Revision(ref="main", sha="b" * 40)
    pin = Pin(
        revision=old,
        digest=Digest("set"),
        at=5.0,
        clusters={"eu-1": Variant(old, Digest("d1")), "us-1": Variant(old, Digest("d2"))},
    )
    again = Intents.from_json(Intents(suspended=True, pin=pin, at=5.0).to_json()).pin
    assert again == pin
    assert again.for_cluster("us-1") == Variant(old, Digest("d2"))
    assert again.for_cluster("new-cluster") is None
    single = Pin(revision=old, digest=Digest("d"), at=1.0)
    assert Pin.from_json(single.to_json()).for_cluster("any") == Variant(old, Digest("d"))
    failed = Variant(old, Digest("d1"), RenderFailure(new, "x: ${cluster.values.zone}\tundefined"))
    assert Variant.from_text(failed.to_text()) == failed
    never = Variant(new, Digest(""), RenderFailure(new, "undefined"))
    assert Variant.from_text(never.to_text()) == never
    assert Variant.from_text(f"d1 {old}") == Variant(old, Digest("d1"))
