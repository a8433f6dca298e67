"""Which clusters share a render and which share a substituted bundle: exactly the variables a
cluster's render reads decide it, never its name unless the application reads the name."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    HelmOptions,
    JsonnetOptions,
    JsonnetVar,
    Override,
    Patch,
    PatchTarget,
    Selector,
)
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.variants.grouping import (
    bundle_references,
    missing_targets,
    output_groups,
    patch_document,
    render_groups,
    set_digest,
    substitute_objects,
    variant_key,
)
from fleetsync.shared.variants.substitution import SubstitutionError


def _cluster(name: str, region: str, **values: Any) -> Cluster:
    return Cluster(
        name=ClusterName(name),
        kubeconfig="/k",
        labels={"region": region},
        values={"region": region, **values},
    )


CLUSTERS = [
    _cluster("eu-1", "eu"),
    _cluster("eu-2", "eu"),
    _cluster("us-1", "us"),
    _cluster("us-2", "us", size="big"),
]


def _app(**helm_values: Any) -> Application:
    return Application(
        name=AppName("web"),
        repository=RepoName("platform"),
        path="apps/web",
        substitute=True,
        helm=HelmOptions(values=helm_values),
    )


OBJECT = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "namespace": "web"},
    "data": {"region": "${cluster.values.region}", "size": "${cluster.values.size:=small}"},
}


def _names(groups: Any) -> list[tuple[str, ...]]:
    return [g.clusters for g in groups]


def test_clusters_whose_helm_values_resolve_alike_share_one_render() -> None:
    found = render_groups(_app(region="${cluster.values.region}"), CLUSTERS)
    assert _names(found.groups) == [("eu-1", "eu-2"), ("us-1", "us-2")]
    assert [dict(g.app.helm.values) for g in found.groups] == [{"region": "eu"}, {"region": "us"}]
    assert not found.failed


def test_helm_values_without_variables_make_one_render_for_the_whole_fleet() -> None:
    found = render_groups(_app(replicas=2), CLUSTERS)
    assert _names(found.groups) == [("eu-1", "eu-2", "us-1", "us-2")]


def test_the_cluster_name_splits_renders_only_when_the_values_read_it() -> None:
    found = render_groups(_app(name="${cluster.name}"), CLUSTERS)
    assert len(found.groups) == 4


def test_output_variables_group_clusters_by_what_the_bundle_reads() -> None:
    refs = bundle_references(Bundle.of([OBJECT], ["apps/web/settings.yaml"]))
    found = output_groups(_app(), CLUSTERS, refs, origin="platform:apps/web")
    assert _names(found.groups) == [("eu-1", "eu-2"), ("us-1",), ("us-2",)]
    eu = substitute_objects([OBJECT], found.groups[0].resolved)
    assert eu[0]["data"] == {"region": "eu", "size": "small"}


def test_a_cluster_missing_a_value_fails_alone_with_the_variable_object_and_origin() -> None:
    clusters = [*CLUSTERS, Cluster(name=ClusterName("bare"), kubeconfig="/k")]
    found = output_groups(
        _app(),
        clusters,
        bundle_references(Bundle.of([OBJECT], ["apps/web/settings.yaml"])),
        origin="platform:apps/web",
    )
    assert len(found.groups) == 3
    message = found.failed[ClusterName("bare")]
    for word in (
        "web: cluster 'bare'",
        "core/ConfigMap/web/settings.data.region",
        "cluster.values.region is not defined",
        "in apps/web/settings.yaml, rendered from platform:apps/web",
    ):
        assert word in message


def test_an_unknown_variable_names_the_file_of_its_object() -> None:
    bad = {**OBJECT, "data": {"home": "${HOME}"}}
    with pytest.raises(SubstitutionError, match=r"\(in apps/web/home.yaml\)"):
        bundle_references(Bundle.of([bad], ["apps/web/home.yaml"]))


def test_a_bundle_keeps_each_object_s_file_out_of_its_objects_and_in_its_digest() -> None:
    plain = Bundle.of([OBJECT])
    sourced = Bundle.of([OBJECT], ["apps/web/settings.yaml"])
    assert sourced.objects == plain.objects  # nothing of the file is applied
    assert Bundle.from_canonical(sourced.canonical()) == sourced
    assert Bundle.from_canonical(plain.canonical()) == plain
    assert sourced.digest == Bundle.of([OBJECT], ["apps/web/settings.yaml"]).digest
    assert sourced.digest != Bundle.of([OBJECT], ["apps/web/moved.yaml"]).digest
    assert plain.digest == Bundle.of([OBJECT]).digest  # bundles stored before keep theirs
    changed = sourced.with_objects([{**OBJECT, "data": {"region": "eu"}}])
    assert changed.sources == ("apps/web/settings.yaml",)


def test_variant_keys_and_set_digests_follow_exactly_their_inputs() -> None:
    refs = bundle_references(Bundle.of([OBJECT], ["apps/web/settings.yaml"]))
    groups = output_groups(_app(), CLUSTERS, refs, origin="o").groups
    assert variant_key("a", groups[0].resolved) != variant_key("a", groups[1].resolved)
    assert variant_key("a", groups[0].resolved) != variant_key("b", groups[0].resolved)
    eu_again = output_groups(_app(), [_cluster("eu-9", "eu")], refs, origin="o").groups[0]
    assert variant_key("a", groups[0].resolved) == variant_key("a", eu_again.resolved)
    first = {ClusterName("a"): "1", ClusterName("b"): "2"}
    assert set_digest(first) != set_digest({**first, ClusterName("b"): "3"})
    assert set_digest(first) == set_digest(dict(reversed(first.items())))


def test_overrides_apply_in_order_and_clusters_picking_the_same_ones_share_a_render() -> None:
    first = Override(
        name="first",
        selector=Selector(match_labels={"region": "us"}),
        helm=HelmOptions(values={"a": {"x": 1, "y": 1}, "b": 1}, values_files=("one.yaml",)),
        path="apps/us",
    )
    second = Override(
        name="second",
        selector=Selector(match_labels={"region": "us"}),
        helm=HelmOptions(values={"a": {"y": 2}}, values_files=("two.yaml",)),
        patches=(Patch(PatchTarget("Deployment", "api"), {"spec": {"replicas": 2}}),),
    )
    app = replace(_app(b=0, c=0), overrides=(first, second))
    found = render_groups(app, CLUSTERS)
    assert _names(found.groups) == [("eu-1", "eu-2"), ("us-1", "us-2")]
    eu, us = found.groups
    assert (eu.app.path, dict(eu.app.helm.values), eu.patches) == ("apps/web", {"b": 0, "c": 0}, ())
    assert us.app.path == "apps/us"
    assert dict(us.app.helm.values) == {"a": {"x": 1, "y": 2}, "b": 1, "c": 0}
    assert us.app.helm.values_files == ("one.yaml", "two.yaml")
    assert [name for name, _ in us.patches] == ["second"]


def test_a_patch_target_the_render_lacks_is_named_with_its_override() -> None:
    patch = Patch(PatchTarget("Deployment", "gone"), {"spec": {}})
    assert missing_targets([OBJECT], [("big", patch)]) == [
        "override 'big': patch target Deployment/gone is not among the rendered objects"
    ]
    present = Patch(PatchTarget("ConfigMap", "settings"), {"data": {"a": "1"}})
    assert missing_targets([OBJECT], [("big", present)]) == []
    assert patch_document([OBJECT], present) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"a": "1"},
    }


def test_jsonnet_ext_vars_and_tlas_read_cluster_variables_before_the_render() -> None:
    app = replace(
        _app(),
        jsonnet=JsonnetOptions(
            ext_vars=(JsonnetVar("region", "${cluster.values.region}"), JsonnetVar("x", "1")),
            tlas=(JsonnetVar("replicas", "${cluster.values.replicas:=2}", code=True),),
        ),
    )
    clusters = [*CLUSTERS[:3], _cluster("us-3", "us", replicas=5)]

    found = render_groups(app, clusters)

    assert [
        (g.clusters, [v.value for v in (*g.app.jsonnet.ext_vars, *g.app.jsonnet.tlas)])
        for g in found.groups
    ] == [
        (("eu-1", "eu-2"), ["eu", "1", "2"]),
        (("us-1",), ["us", "1", "2"]),
        (("us-3",), ["us", "1", "5"]),
    ]


def test_a_jsonnet_value_reading_a_variable_a_cluster_lacks_fails_that_cluster_only() -> None:
    app = replace(
        _app(), jsonnet=JsonnetOptions(ext_vars=(JsonnetVar("size", "${cluster.values.size}"),))
    )

    found = render_groups(app, CLUSTERS)

    assert [g.clusters for g in found.groups] == [("us-2",)]
    assert set(found.failed) == {"eu-1", "eu-2", "us-1"}
    assert "jsonnet.extVars.size" in found.failed["eu-1"]
