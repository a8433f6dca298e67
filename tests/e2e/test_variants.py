"""Per-cluster variants end to end through `fleetsync up` on kubesim clusters: one application
whose output reads each cluster's region and name, with an override patching it where a label
says so. Each cluster gets its own values; an edit of one region's values in fleet.yaml changes
that region's clusters and writes nothing to the others."""

from __future__ import annotations

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

    def write_fleet(self, us_domain: str) -> None:
        self.fleet_file.write_text(_fleet(self.kubeconfigs, us_domain, self.url))
        st = self.fleet_file.stat()
        os.utime(self.fleet_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _fleet(kubeconfigs: dict[str, Path], us_domain: str, url: str) -> str:
    domains = {"eu": "eu.example.com", "us": us_domain}
    clusters = "\n".join(
        f"  - name: {c}\n    kubeconfig: {kubeconfigs[c]}\n"
        f"    labels: {{env: prod, tier: {'big' if c == 'eu-2' else 'small'}}}\n"
        f"    values: {{region: {{name: {r}, domain: {domains[r]}}}}}"
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
            yield World(sim, fleet_file, kubeconfigs, url, up.api_url)


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
