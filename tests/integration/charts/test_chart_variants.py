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
