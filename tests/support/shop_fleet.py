"""The shop fleet of the end-to-end CLI and API tests: one application, `shop` (the repository's
apps/shop, namespace default), on two kubesim clusters, east and west, with the whole loop
running (`running_fleet`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo

CLUSTERS = ("east", "west")
SETTINGS = "apps/shop/settings.yaml"


def shop_fleet_yaml(*, interval: str, labelled: bool) -> Callable[[str, Simulator], str]:
    """fleet.yaml of the shop fleet, its repository polled every `interval`; with `labelled`,
    each cluster labelled `side: <its name>`."""

    def text(url: str, sim: Simulator) -> str:
        clusters = "".join(
            f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}"
            + (f", labels: {{side: {c}}}" if labelled else "")
            + "}\n"
            for c in CLUSTERS
        )
        return (
            "repositories:\n"
            f'  - {{name: platform, url: "{url}", ref: main, interval: {interval}}}\n'
            f"clusters:\n{clusters}"
            "applications:\n  - {name: shop, repository: platform, path: apps/shop, "
            "namespace: default, targets: {clusters: [east, west]}}\n"
        )

    return text


@contextmanager
def running_shop(
    *,
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    git_repo: WorkRepo,
    files: Mapping[str, str],
    interval: str = "1s",
    labelled: bool = False,
) -> Iterator[Harness]:
    """The shop fleet running, `files` committed as its first commit ("one") and Synced and
    Healthy on both clusters."""
    for path, text in files.items():
        git_repo.write(path, text)
    git_repo.commit("one")
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        fleet_yaml=shop_fleet_yaml(interval=interval, labelled=labelled),
    ) as harness:
        harness.wait_synced_healthy("shop", CLUSTERS)
        yield harness
