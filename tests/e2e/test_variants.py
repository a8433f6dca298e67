"""Per-cluster variants end to end through `fleetsync up` on kubesim clusters: one application
whose output reads each cluster's region and name, with an override patching it where a label
says so. Each cluster gets its own values; an edit of one region's values in fleet.yaml changes
that region's clusters and writes nothing to the others. A commit that reads a value one cluster
lacks fails that cluster alone, which says so and keeps what it ran; a rollback takes each
cluster back to its own bundle of the revision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubesim import Simulator
from tests.support.git_server import GitServer, WorkRepo
from tests.support.up import start_up, up_env
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

CLUSTERS = {"eu-1": "eu", "eu-2": "eu", "us-1": "us", "us-2": "us"}
SETTINGS = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data:
      region: "${cluster.values.region.name}"
      domain: "web.${cluster.values.region.domain:=example.com}"
      cluster: "${cluster.name}"
    """)


@dataclass
class World:
    sim: Simulator
    fleet_file: Path
    kubeconfigs: dict[str, Path]
    url: str
    api: str
    repo: WorkRepo
    env: dict[str, str]

    def reconciles(self, cluster: str) -> list[str]:
        """The pair's recorded reconciles (what triggered each), newest first."""
        answer = httpx.get(f"{self.api}/api/v1/applications/web/clusters/{cluster}/history")
        return [entry["trigger"] for entry in answer.json()]

    def settings(self, cluster: str) -> dict[str, Any] | None:
        for o in self.sim.cluster(cluster).objects():
            if o.get("kind") == "ConfigMap" and o["metadata"].get("name") == "settings":
                return o
        return None

    def data(self, cluster: str) -> dict[str, str]:
        found = self.settings(cluster)
        return dict(found.get("data") or {}) if found else {}

    def write_fleet(self, us_domain: str, zones: dict[str, str] | None = None) -> None:
        self.fleet_file.write_text(_fleet(self.kubeconfigs, us_domain, self.url, zones))
        st = self.fleet_file.stat()
        os.utime(self.fleet_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _fleet(
    kubeconfigs: dict[str, Path], us_domain: str, url: str, zones: dict[str, str] | None = None
) -> str:
    domains = {"eu": "eu.example.com", "us": us_domain}
    zones = zones or {}
    clusters = "\n".join(
        f"  - name: {c}\n    kubeconfig: {kubeconfigs[c]}\n"
        f"    labels: {{env: prod, tier: {'big' if c == 'eu-2' else 'small'}}}\n"
        f"    values: {{region: {{name: {r}, domain: {domains[r]}}}"
        + (f", zone: {zones[c]}" if c in zones else "")
        + "}"
        for c, r in CLUSTERS.items()
    )
    return textwrap.dedent(f"""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
        {{clusters}}
        applications:
          - name: web
            repository: platform
            path: apps/web
            namespace: default
            substitute: true
            targets: {{selector: {{matchLabels: {{env: prod}}}}}}
            overrides:
              - name: big
                selector: {{matchLabels: {{tier: big}}}}
                patches:
                  - target: {{kind: ConfigMap, name: settings}}
                    patch: {{data: {{size: "big-${{cluster.name}}"}}}}
        """).replace("{clusters}", clusters)


@pytest.fixture
def world(tmp_path: Path, git_server: GitServer, git_repo: WorkRepo) -> Iterator[World]:
    git_repo.write("apps/web/settings.yaml", SETTINGS)
    git_repo.commit("web")
    with Simulator(clusters=list(CLUSTERS), kubeconfig_dir=tmp_path / "kubeconfigs") as sim:
        kubeconfigs = {c: sim.kubeconfig_path(c) for c in CLUSTERS}
        fleet_file = tmp_path / "fleet.yaml"
        url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
        fleet_file.write_text(_fleet(kubeconfigs, "us.example.com", url))
        env = up_env(tmp_path, FLEETSYNC_API_INSECURE="1")
        with start_up(fleet_file, env) as up:
            yield World(sim, fleet_file, kubeconfigs, url, up.api_url, git_repo, env)


def test_each_cluster_gets_its_values_and_a_values_edit_touches_only_its_region(
    world: World,
) -> None:
    wanted = {
        "eu-1": {"region": "eu", "domain": "web.eu.example.com", "cluster": "eu-1"},
        "eu-2": {
            "region": "eu",
            "domain": "web.eu.example.com",
            "cluster": "eu-2",
            "size": "big-eu-2",
        },
        "us-1": {"region": "us", "domain": "web.us.example.com", "cluster": "us-1"},
        "us-2": {"region": "us", "domain": "web.us.example.com", "cluster": "us-2"},
    }
    wait_for(
        lambda: all(world.data(c) == d for c, d in wanted.items()),
        timeout=120,
        interval=0.5,
        what="every cluster's own settings applied",
    )
    # The offline diff renders what this cluster gets (its override, its values): no difference.
    argv = ["diff", "web", "--cluster", "eu-2", "-c", str(world.fleet_file)]
    diff = subprocess.run(
        [sys.executable, "-m", "fleetsync", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLEETSYNC_CACHE_DIR": str(world.fleet_file.parent / "cli-cache")},
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr
    detail = httpx.get(f"{world.api}/api/v1/applications/web").json()
    assert detail["desired"]["variants"] == 4  # every cluster's output reads its own name
    versions = {c: world.settings(c)["metadata"]["resourceVersion"] for c in CLUSTERS}  # type: ignore[index]
    before = wait_for(
        lambda: (
            (found := {c: world.reconciles(c) for c in CLUSTERS}) and all(found.values()) and found
        ),
        what="every pair's first reconcile recorded",
    )

    world.write_fleet(us_domain="us.example.net")
    wait_for(
        lambda: all(world.data(c)["domain"] == "web.us.example.net" for c in ("us-1", "us-2")),
        timeout=60,
        interval=0.5,
        what="the us region's new domain on its clusters",
    )
    wait_for(
        lambda: all(len(world.reconciles(c)) > len(before[c]) for c in ("us-1", "us-2")),
        what="the us clusters' reconciles recorded",
    )
    for cluster in ("eu-1", "eu-2"):
        assert world.reconciles(cluster) == before[cluster], "a cluster whose input is unchanged"
        now = world.settings(cluster)
        assert now is not None and now["metadata"]["resourceVersion"] == versions[cluster]
        assert world.data(cluster) == wanted[cluster]


def _cli(world: World, *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it beside `fleetsync up` (it finds the instance itself)."""
    return subprocess.run(
        [sys.executable, "-m", "fleetsync", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=world.env,
    )


def _pairs(world: World) -> dict[str, dict[str, Any]]:
    detail = httpx.get(f"{world.api}/api/v1/applications/web").json()
    return {p["cluster"]: p for p in detail["clusters"]}


FIRST = {
    "eu-1": {"region": "eu", "domain": "web.eu.example.com", "cluster": "eu-1"},
    "eu-2": {"region": "eu", "domain": "web.eu.example.com", "cluster": "eu-2", "size": "big-eu-2"},
    "us-1": {"region": "us", "domain": "web.us.example.com", "cluster": "us-1"},
    "us-2": {"region": "us", "domain": "web.us.example.com", "cluster": "us-2"},
}


def test_a_cluster_lacking_a_value_fails_alone_and_a_rollback_takes_each_cluster_back(
    world: World,
) -> None:
    wait_for(
        lambda: all(world.data(c) == d for c, d in FIRST.items()),
        timeout=120,
        interval=0.5,
        what="every cluster's own settings applied",
    )
    first = world.repo.head
    zones = {"eu-2": "b", "us-1": "a", "us-2": "b"}  # eu-1 has none
    world.write_fleet("us.example.com", zones)
    world.repo.write("apps/web/settings.yaml", SETTINGS + '  zone: "${cluster.values.zone}"\n')
    second = world.repo.commit("zone")

    wait_for(
        lambda: all(world.data(c).get("zone") == z for c, z in zones.items()),
        timeout=120,
        interval=0.5,
        what="the zone on every cluster that declares one",
    )
    pairs = wait_for(
        lambda: (
            (found := _pairs(world))
            and found["eu-1"]["sync"] == "OutOfSync"
            and all(second in found[c]["revision"] for c in zones)
            and found
        ),
        timeout=60,
        what="eu-1's render failure in its status, the others at the new commit",
    )
    eu1 = pairs["eu-1"]
    assert first in eu1["revision"]  # what it runs: its last good state
    for words in (
        f"the render of main@sha1:{second} failed for this cluster",
        "cluster 'eu-1'",
        "core/ConfigMap/default/settings.data.zone",
        "cluster.values.zone is not defined",
        "in apps/web/settings.yaml, rendered from platform:apps/web",
        f"still running main@sha1:{first}",
    ):
        assert words in eu1["message"], eu1["message"]
    assert world.data("eu-1") == FIRST["eu-1"]  # nothing pruned, nothing changed
    shown = _cli(world, "status", "web", "-o", "json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {r["cluster"]: r for r in json.loads(shown.stdout)}
    assert rows["eu-1"]["sync"] == "OutOfSync"
    assert "cluster.values.zone is not defined" in rows["eu-1"]["message"]
    assert rows["us-1"]["sync"] == "Synced" and second in rows["us-1"]["revision"]

    refused = _cli(world, "rollback", "web", "--to", second[:10])
    assert refused.returncode != 0
    assert f"cluster(s) eu-1 never ran main@sha1:{second}" in refused.stderr, refused.stderr

    world.write_fleet("us.example.com", {**zones, "eu-1": "a"})
    wait_for(
        lambda: (
            world.data("eu-1").get("zone") == "a"
            and (p := _pairs(world)["eu-1"])["sync"] == "Synced"
            and second in p["revision"]
        ),
        timeout=60,
        interval=0.5,
        what="eu-1 at the new commit once its zone is declared",
    )

    back = _cli(world, "rollback", "web", "--to", first[:10], "--wait", "--timeout", "90")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "each target cluster to the bundle it ran at" in back.stdout
    assert "web: Synced and Healthy at each cluster's own revision on 4 clusters" in back.stdout
    wait_for(
        lambda: all(world.data(c) == d for c, d in FIRST.items()),
        timeout=60,
        interval=0.5,
        what="each cluster back on its own settings of the first commit",
    )
    detail = httpx.get(f"{world.api}/api/v1/applications/web").json()
    assert detail["suspended"] and first in detail["pinned"]["revision"]
    assert set(detail["pinned"]["clusters"]) == set(CLUSTERS)
    shown = _cli(world, "status", "web")
    assert f"rolled back to main@sha1:{first[:12]}" in shown.stdout, shown.stdout

    resumed = _cli(world, "resume", "web")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    wait_for(
        lambda: all(world.data(c).get("zone") for c in CLUSTERS),
        timeout=60,
        interval=0.5,
        what="every cluster back on Git's latest after resume",
    )
