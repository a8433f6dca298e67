"""Charts end to end through `fleetsync up` on kubesim clusters: an application from a chart
repository (with credentials, values from a Git repository), one from an OCI registry, and a
chart in Git depending on a chart in the chart repository. A new chart version published and a
commit to the values file each roll out by themselves."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubesim import Simulator
from tests.support.charts import ChartRepoServer, chart_yaml, package_chart, serving_charts
from tests.support.git_server import GitServer, WorkRepo
from tests.support.oci_registry import Registry, running_registry
from tests.support.up import start_up, up_env
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n  color: {{ .Values.color | quote }}\n"
)
CHART_USER, CHART_PASSWORD = "reader", "chart-password-7"
REGISTRY_AUTH = ("fleet", "registry-password-9")


def _chart(name: str, version: str) -> bytes:
    return package_chart(name, version, {"templates/configmap.yaml": TEMPLATE})


@dataclass
class World:
    sim: Simulator
    charts: ChartRepoServer
    registry: Registry
    registry_path: str
    values: WorkRepo
    api: str
    """The API's address, once `up` runs."""

    def configmaps(self, cluster: str) -> dict[str, dict[str, str]]:
        return {
            o["metadata"]["name"]: o.get("data", {})
            for o in self.sim.cluster(cluster).objects()
            if o.get("kind") == "ConfigMap" and o["metadata"].get("namespace") == "charts"
        }

    def application(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.api}/api/v1/applications/{name}").json()
        return answer


def _fleet(world: World, git_url: str) -> str:
    clusters = "\n".join(
        f"  - {{name: {c}, kubeconfig: {world.sim.kubeconfig_path(c)}}}" for c in ("c1", "c2")
    )
    return textwrap.dedent(f"""\
        repositories:
          - {{name: platform, url: "{git_url}", ref: main, interval: 1s}}
          - name: charts
            type: helm
            url: {world.charts.url}
            interval: 1s
            credentials: {{username_env: CHART_USER, password_env: CHART_PASSWORD}}
          - name: registry
            type: oci
            url: {world.registry.oci_url(world.registry_path)}
            insecure: true
            interval: 1s
            credentials: {{username_env: REG_USER, password_env: REG_PASSWORD}}
        clusters:
        {{clusters}}
        applications:
          - name: web
            repository: charts
            chart: web
            version: ">=1.0 <2"
            namespace: charts
            sync: {{createNamespace: true}}
            helm: {{valuesFrom: {{repository: platform, path: values/web.yaml}}}}
            targets: {{clusters: [c1, c2]}}
          - name: cache
            repository: registry
            chart: cache
            version: ~2.0
            namespace: charts
            sync: {{createNamespace: true}}
            targets: {{clusters: [c1]}}
          - name: umbrella
            repository: platform
            path: charts/umbrella
            namespace: charts
            sync: {{createNamespace: true}}
            targets: {{clusters: [c2]}}
        """).replace("{clusters}", clusters)


@pytest.fixture
def world(tmp_path: Path, git_server: GitServer, git_repo: WorkRepo) -> Iterator[World]:
    with (
        Simulator(clusters=["c1", "c2"], kubeconfig_dir=tmp_path / "kubeconfigs") as sim,
        serving_charts(basic=(CHART_USER, CHART_PASSWORD)) as charts,
        running_registry(tmp_path / "registry", auth=REGISTRY_AUTH) as registry,
    ):
        path = f"e{uuid.uuid4().hex[:8]}"
        charts.add(_chart("web", "1.0.0"), name="web", version="1.0.0")
        charts.add(_chart("lib", "0.3.0"), name="lib", version="0.3.0")
        registry.push_chart(path, _chart("cache", "2.0.1"), name="cache", version="2.0.1")
        git_repo.write("values/web.yaml", "color: purple\n")
        git_repo.write(
            "charts/umbrella/Chart.yaml",
            chart_yaml(
                "umbrella", "0.1.0", [{"name": "lib", "version": "0.3.x", "repository": charts.url}]
            ),
        )
        git_repo.write("charts/umbrella/values.yaml", "lib: {color: green}\n")
        git_repo.commit("values and an umbrella chart")
        world = World(sim, charts, registry, path, git_repo, api="")
        fleet_file = tmp_path / "fleet.yaml"
        fleet_file.write_text(_fleet(world, git_server.git_url(git_repo.bare.name[:-4])))
        env = up_env(
            tmp_path,
            FLEETSYNC_API_INSECURE="1",
            CHART_USER=CHART_USER,
            CHART_PASSWORD=CHART_PASSWORD,
            REG_USER=REGISTRY_AUTH[0],
            REG_PASSWORD=REGISTRY_AUTH[1],
        )
        with start_up(fleet_file, env) as up:
            world.api = up.api_url
            yield world


def test_charts_from_a_repository_a_registry_and_a_git_dependency_roll_out(world: World) -> None:
    def converged() -> bool:
        c1, c2 = world.configmaps("c1"), world.configmaps("c2")
        return (
            c1.get("web-web") == {"version": "1.0.0", "color": "purple"}
            and c2.get("web-web") == {"version": "1.0.0", "color": "purple"}
            and c1.get("cache-cache") == {"version": "2.0.1", "color": "blue"}
            and c2.get("umbrella-lib") == {"version": "0.3.0", "color": "green"}
        )

    wait_for(converged, timeout=120, interval=0.5, what="every chart applied on kubesim")
    web = world.application("web")
    assert web["desired"]["revision"].startswith("web@1.0.0@sha256:")
    assert web["source"]["ref"] == "chart web >=1.0 <2"

    world.charts.add(_chart("web", "1.1.0"), name="web", version="1.1.0")
    world.charts.add(_chart("web", "2.0.0"), name="web", version="2.0.0")
    wait_for(
        lambda: all(
            world.configmaps(c).get("web-web", {}).get("version") == "1.1.0" for c in ("c1", "c2")
        ),
        timeout=60,
        interval=0.5,
        what="web 1.1.0, the newest in range, on both clusters",
    )

    world.values.write("values/web.yaml", "color: orange\n")
    world.values.commit("orange")
    wait_for(
        lambda: all(
            world.configmaps(c).get("web-web") == {"version": "1.1.0", "color": "orange"}
            for c in ("c1", "c2")
        ),
        timeout=60,
        interval=0.5,
        what="the new values on both clusters",
    )
    assert world.application("web")["desired"]["revision"].startswith("web@1.1.0@sha256:")
