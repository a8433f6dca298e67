"""The canary fleet of the rollout tests: `web`, one ConfigMap, rolled out to a canary wave
(`canary-1`) before the rest (`c2`, `c3`), as `loss_fleet` declares it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fleetsync.shared.model.rollout import Phase, Rollout
from tests.support.fleet_harness import Harness, LossHarness, loss_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap

CLUSTERS = ("canary-1", "c2", "c3")
REST = CLUSTERS[1:]
WEB_FILE = "apps/web/web.yaml"

RINGS = {c: f"labels: {{ring: {'canary' if c.startswith('canary') else 'main'}}}" for c in CLUSTERS}
"""`loss_fleet`'s cluster_fields: the canary ring and the main one."""

WEB = """\
- name: web
  repository: platform
  path: apps/web
  namespace: default
  targets: {selector: {}}
  sync: {driftInterval: 1h}
  rollout:
    waves:
      - {name: canary, selector: {matchLabels: {ring: canary}}}
    bake: 1h
    progressDeadline: 10m
"""
"""`loss_fleet`'s applications: web on every cluster, the canary ring first."""


def web_files(value: str) -> dict[str, str | None]:
    """web's repository content: its ConfigMap `web-config` holding `value`."""
    return {WEB_FILE: configmap("web-config", value)}


def value_on(h: Harness, cluster: str) -> str | None:
    """The value web's ConfigMap holds on `cluster` (None: no ConfigMap)."""
    live = h.live(cluster, "v1", "ConfigMap", "web-config", "default")
    return None if live is None else str(live["data"]["value"])


def rollout_of(h: Harness, sha: str, phase: Phase) -> Callable[[], Rollout | None]:
    """A check for `wait_for`: web's rollout of `sha`, once it is in `phase`."""

    def check() -> Rollout | None:
        r: Rollout | None = h.store.rollout("web")
        return r if r is not None and r.revision.sha == sha and r.phase is phase else None

    return check


@contextmanager
def canary_fleet(
    *,
    tmp_path: Path,
    git_server: GitServer,
    git_repo: WorkRepo,
    interval: str,
    redis_url: str | None = None,
) -> Iterator[LossHarness]:
    """The canary fleet on `loss_fleet` (its repository polled every `interval`; `redis_url`
    as there), web's first commit ("one") Synced and Healthy everywhere."""
    for path, text in web_files("one").items():
        git_repo.write(path, text or "")
    git_repo.commit("one")
    with loss_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        applications=WEB,
        cluster_fields=RINGS,
        interval=interval,
    ) as h:
        h.wait_synced_healthy("web", CLUSTERS)
        yield h
