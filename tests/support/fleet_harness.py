"""The whole GitOps loop in one test process: a served git repository, kubesim clusters, a real
Redis, real Celery workers on every queue and a beat thread ticking the real scheduler.

Tests drive it the way users do (commit to git, edit a cluster by hand) and observe it the way
operators do (the store's statuses, the clusters' objects).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.workers.runtime import Runtime
from kubesim import Simulator
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.git_server import GitServer, WorkRepo
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
