"""A chart from a chart repository with per-cluster Helm values: one render per distinct value,
each cluster's bundle its own region's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fleetsync.shared.desired import desired_for_pair
from fleetsync.shared.model.declaration import Cluster, Selector, Targets
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_app, chart_repository, fleet_of
from tests.support.charts import ChartRepoServer, package_chart


def test_a_chart_renders_once_per_region_with_the_cluster_s_values(
    redis_url: str, cache: Path, chart_repo: ChartRepoServer
) -> None:
    chart_repo.add(package_chart("web", "1.0.0"), name="web", version="1.0.0")
    charts = chart_repository(chart_repo.url)
    app = replace(
        chart_app("web", charts, "web", "1.0.0", values={"color": "${cluster.values.color}"}),
        targets=Targets(selector=Selector()),
    )
    colors = {"a": "red", "b": "red", "c": "green"}
    clusters = {
        ClusterName(n): Cluster(name=ClusterName(n), kubeconfig="/k", values={"color": c})
        for n, c in colors.items()
    }
    fleet = replace(fleet_of(charts, app), clusters=clusters)
    sources = Sources(Store.connect(redis_url), cache)
    _, fetched = sources.sync(fleet, "charts")
    assert fetched is not None and fetched.failed == {}
    assert fetched.changed == {AppName("web"): ("a", "b", "c")}
    assert sources.store.stats()["render"] == 2
    for name, color in colors.items():
        chosen = desired_for_pair(sources.store, AppName("web"), ClusterName(name))
        assert chosen is not None and chosen.revision.short == "web@1.0.0"
        bundle = sources.store.get_bundle(chosen.digest)
        assert bundle is not None and bundle.objects[0]["data"]["color"] == color


def test_a_variable_a_cluster_lacks_in_a_chart_s_output_names_the_chart_and_its_file(
    redis_url: str, cache: Path, chart_repo: ChartRepoServer
) -> None:
    zone = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: zone}\n"
        'data: {zone: "${cluster.values.zone}"}\n'
    )
    chart_repo.add(
        package_chart("web", "1.0.0", {"templates/zone.yaml": zone}), name="web", version="1.0.0"
    )
    charts = chart_repository(chart_repo.url)
    app = replace(
        chart_app("web", charts, "web", "1.0.0"),
        targets=Targets(selector=Selector()),
        substitute=True,
    )
    clusters = {
        ClusterName(n): Cluster(name=ClusterName(n), kubeconfig="/k", values=v)
        for n, v in {"a": {"zone": "z1"}, "d": {}}.items()
    }
    sources = Sources(Store.connect(redis_url), cache)
    _, fetched = sources.sync(replace(fleet_of(charts, app), clusters=clusters), "charts")
    assert fetched is not None
    assert fetched.failed == {
        AppName("web"): "web: cluster 'd': core/ConfigMap/web/zone.data.zone: "
        "${cluster.values.zone} (in web/templates/zone.yaml, rendered from chart web 1.0.0): "
        "cluster.values.zone is not defined for cluster 'd'; declare it in the cluster's values "
        "in fleet.yaml or give a default (${cluster.values.zone:=...})"
    }
