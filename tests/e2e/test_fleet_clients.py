"""An apply worker keeps a Kubernetes client for every cluster the fleet declares, past the 512
it keeps at least: a second commit to a fleet of more clusters builds no client again (no
kubeconfig read, no discovery). Real git, Redis, Celery workers and kubesim clusters."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from fleetsync.shared.kube.client import (
    CLIENT_CACHE_SIZE,
    clients_built,
    forget_clients,
    kept_clients,
)
from fleetsync.shared.model.status import SyncState
from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.waiting import wait_for

CLUSTERS = tuple(f"c{i:03d}" for i in range(CLIENT_CACHE_SIZE + 24))


def fleet_yaml(url: str, sim: Simulator) -> str:
    clusters = "".join(
        f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}, labels: {{env: prod}}}}\n"
        for c in CLUSTERS
    )
    return textwrap.dedent("""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
        {clusters}applications:
          - name: settings
            repository: platform
            path: apps/settings
            namespace: default
            targets: {{selector: {{matchLabels: {{env: prod}}}}}}
        """).format(url=url, clusters=clusters)


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[Harness]:
    git_repo.write("apps/settings/config.yaml", configmap("settings", "1"))
    git_repo.commit("settings 1")
    forget_clients()
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        fleet_yaml=fleet_yaml,
        tick_seconds=1.0,
    ) as harness:
        yield harness
    forget_clients()


def _synced_at(h: Harness, sha: str, clusters: Sequence[str]) -> None:
    def behind() -> list[str]:
        return [
            c
            for c in clusters
            if (s := h.status("settings", c)) is None
            or s.sync is not SyncState.SYNCED
            or sha not in str(s.revision)
        ]

    wait_for(lambda: not behind(), timeout=600, interval=1.0, what=f"Synced at {sha}")


@pytest.mark.slow
def test_a_commit_to_more_clusters_than_512_builds_no_client_again(fleet: Harness) -> None:
    _synced_at(fleet, fleet.repo.head, CLUSTERS)
    built = clients_built()
    assert built >= len(CLUSTERS)

    sha = fleet.commit("settings 2", {"apps/settings/config.yaml": configmap("settings", "2")})
    _synced_at(fleet, sha, CLUSTERS)
    assert clients_built() == built, "a reconcile built its cluster's client again"
    assert kept_clients() == len(CLUSTERS)
