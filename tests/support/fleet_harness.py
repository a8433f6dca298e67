"""The whole GitOps loop in one test process: a served git repository, kubesim clusters, a real
Redis, real Celery workers on every queue and a beat thread ticking the real scheduler.

Tests drive it the way users do (commit to git, edit a cluster by hand) and observe it the way
operators do (the store's statuses, the clusters' objects).

`loss_fleet` is the same loop for tests of a total loss of Redis's data: see its docstring.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.settings import Settings
from fleetsync.workers.runtime import Runtime
from kubesim import Simulator
from tests.support.celery_worker import configure_workers, point_broker_at, running_worker
from tests.support.git_server import GitServer, WorkRepo
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for


@dataclass
class Harness:
    runtime: Runtime
    sim: Simulator
    repo: WorkRepo
    fleet_file: Path
    git_url: str

    @property
    def store(self) -> Any:
        return self.runtime.store

    def status(self, app: str, cluster: str) -> PairStatus | None:
        status: PairStatus | None = self.runtime.store.status(app, cluster)
        return status

    def wait_status(
        self,
        app: str,
        clusters: Sequence[str],
        condition: Callable[[PairStatus], bool],
        what: str,
        timeout: float = 60,
    ) -> dict[str, PairStatus]:
        def check() -> dict[str, PairStatus] | None:
            found = {c: self.status(app, c) for c in clusters}
            if all(s is not None and condition(s) for s in found.values()):
                return {c: s for c, s in found.items() if s is not None}
            return None

        result: dict[str, PairStatus] = wait_for(
            check, timeout=timeout, interval=0.2, what=f"{app} on {list(clusters)}: {what}"
        )
        return result

    def wait_synced_healthy(
        self, app: str, clusters: Sequence[str], what: str = "first rollout"
    ) -> dict[str, PairStatus]:
        return self.wait_status(
            app,
            clusters,
            lambda s: s.sync is SyncState.SYNCED and s.health is Health.HEALTHY,
            what,
        )

    def edit_by_hand(self, cluster: str, name: str, namespace: str, data: dict[str, str]) -> None:
        """Change a ConfigMap the way `kubectl edit` would: a merge patch by another manager."""
        self.kube(cluster).resources.get(api_version="v1", kind="ConfigMap").patch(
            name=name,
            namespace=namespace,
            body={"data": data},
            content_type="application/merge-patch+json",
            field_manager="kubectl-edit",
        )

    def kube(self, cluster: str) -> DynamicClient:
        api = k8s_config.new_client_from_config(config_file=str(self.sim.kubeconfig_path(cluster)))
        return DynamicClient(api)

    def live(
        self, cluster: str, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        resource = self.kube(cluster).resources.get(api_version=api_version, kind=kind)
        try:
            obj = resource.get(name=name, namespace=namespace)
        except k8s.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        result: dict[str, Any] = obj.to_dict()
        return result

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        for path, text in files.items():
            if text is None:
                self.repo.remove(path)
            else:
                self.repo.write(path, text)
        return self.repo.commit(message)

    def write_fleet(self, text: str) -> None:
        self.fleet_file.write_text(text)


@contextmanager
def running_fleet(
    *,
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    repo: WorkRepo,
    clusters: Sequence[str],
    fleet_yaml: Callable[[str, Simulator], str],
    tick_seconds: float = 0.2,
) -> Iterator[Harness]:
    with Simulator(clusters=list(clusters), kubeconfig_dir=tmp_path / "kubeconfigs") as sim:
        for name in clusters:
            sim.cluster(name).set_controllers(enabled=True, ready_delay=0.2)
        url = git_server.git_url(repo.bare.name.removesuffix(".git"))
        fleet_file = tmp_path / "fleet.yaml"
        fleet_file.write_text(fleet_yaml(url, sim))
        rt = configure_workers(redis_url, tmp_path / "cache")
        ticker = Ticker(rt.store, rt.sender, fleet_file)
        stop = threading.Event()

        def beat() -> None:
            while not stop.is_set():
                ticker.tick()
                stop.wait(tick_seconds)

        with running_worker(concurrency=8):
            thread = threading.Thread(target=beat, name="test-beat", daemon=True)
            thread.start()
            try:
                yield Harness(runtime=rt, sim=sim, repo=repo, fleet_file=fleet_file, git_url=url)
            finally:
                stop.set()
                thread.join(timeout=10)


@dataclass
class LossHarness(Harness):
    """A `Harness` whose Redis can lose every key while the loop runs."""

    redis_url: str
    server: RedisServer | None = None

    def lose_redis(self) -> None:
        """Every key gone: FLUSHALL on the test's Redis, or, for the fleet's own redis-server
        (no persistence), a SIGKILL and a start on the same port."""
        if self.server is None:
            redis.Redis.from_url(self.redis_url).flushall()
        else:
            self.server.stop(kill=True)
            self.server.start()

    def wait_mirrored(self, app: str, what: str = "the intents") -> None:
        """Wait until every cluster's intents mirror of `app` holds what Redis holds now (its
        rollback, suspension and rollout), so that a loss from here on can be read back."""
        fingerprint = self.store.intents_view(app, self.clusters[0]).fingerprint()
        for cluster in self.clusters:
            wait_for(
                lambda c=cluster: self.store.intents_view(app, c).mirrored == fingerprint,  # type: ignore[misc]
                timeout=60,
                what=f"{what} of {app} mirrored on {cluster}",
            )

    def bundle_in_redis(self, digest: str) -> bool:
        """Whether the bundle `digest` is in Redis itself (this process's bundle cache outlives
        a loss; other processes' do not)."""
        return bool(self.store.client.exists(self.store.key("bundle", digest)))

    @property
    def clusters(self) -> list[str]:
        return list(self.sim.names)


def loss_fleet_yaml(
    url: str,
    sim: Simulator,
    *,
    clusters: Sequence[str],
    applications: str,
    cluster_fields: Mapping[str, str],
    interval: str,
) -> str:
    """fleet.yaml of a `loss_fleet`: see there."""
    entries = "".join(
        f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}"
        + (f", {cluster_fields[c]}" if c in cluster_fields else "")
        + "}\n"
        for c in clusters
    )
    return (
        f'repositories:\n  - {{name: platform, url: "{url}", ref: main, interval: {interval}}}\n'
        f"clusters:\n{entries}"
        f"applications:\n{textwrap.indent(textwrap.dedent(applications), '  ')}"
    )


@contextmanager
def loss_fleet(
    *,
    tmp_path: Path,
    git_server: GitServer,
    repo: WorkRepo,
    clusters: Sequence[str],
    applications: str,
    cluster_fields: Mapping[str, str] | None = None,
    interval: str = "1h",
    redis_url: str | None = None,
) -> Iterator[LossHarness]:
    """The running loop of `running_fleet` for tests where Redis loses every key.

    fleet.yaml declares `repo` as the repository `platform` (ref main, polled every
    `interval`: an hour by default, so only the recovery makes fleetsync see a commit that
    waits), `clusters` (kubesim, `cluster_fields[name]` appended to a cluster's flow mapping,
    e.g. `"labels: {ring: canary}"`) and `applications`: the YAML list's items as written at
    column 0, e.g. `"- {name: web, repository: platform, path: apps/web, namespace: web,\n
    targets: {clusters: [c1, c2]}, sync: {driftInterval: 1h}}"`.

    With `redis_url` (the `redis_url` fixture) the loss is a FLUSHALL; without, the fleet runs
    its own redis-server without persistence, the workers' broker and store, and the loss is
    that server killed and started again. Either way `LossHarness.lose_redis()` makes it
    happen; `wait_mirrored` waits until a loss can be read back from the clusters.
    """
    fields = dict(cluster_fields or {})

    def fleet_yaml(url: str, sim: Simulator) -> str:
        return loss_fleet_yaml(
            url,
            sim,
            clusters=clusters,
            applications=applications,
            cluster_fields=fields,
            interval=interval,
        )

    server: RedisServer | None = None
    if redis_url is None:
        server = RedisServer(tmp_path / "redis", persist=False)
        server.start()
        point_broker_at(server.url)
    url = redis_url if server is None else server.url
    try:
        with running_fleet(
            redis_url=url,
            tmp_path=tmp_path,
            git_server=git_server,
            repo=repo,
            clusters=clusters,
            fleet_yaml=fleet_yaml,
        ) as h:
            yield LossHarness(
                runtime=h.runtime,
                sim=h.sim,
                repo=h.repo,
                fleet_file=h.fleet_file,
                git_url=h.git_url,
                redis_url=url,
                server=server,
            )
    finally:
        if server is not None:
            point_broker_at(Settings().redis_url)  # the next test configures its own
            server.stop()
