"""A fleet under test for the fault suite: kubesim clusters, a git repository served over
git://, a Redis (one server, or Sentinel) and fleetsync's real processes under `fleetsync up`.

It knows what converged means (every pair Synced and Healthy at the latest commit, and the
clusters holding what that commit declares), watches statuses for regressions while a fault
plays out, and measures what the figures need: seconds to converge, objects lost or wrongly
deleted (a declared object missing, or deleted and created again), orphans, stuck pairs,
restarts and manual actions.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import UNAVAILABLE, Store
from kubesim import Simulator
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.processes import Proc
from tests.support.redis_server import free_port
from tests.support.up import up_argv, up_env
from tests.support.waiting import wait_for

API_TOKEN = "fault-suite-token"
APPS = ("web", "api")
CONVERGE_TIMEOUT = 60.0


def deployment(name: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n"
        f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n"
        f"      containers: [{{name: {name}, image: 'nginx:1.27'}}]\n"
    )


@dataclass
class Objects:
    """What one cluster holds for the suite, by (namespace, kind, name) -> (uid, data)."""

    found: dict[tuple[str, str, str], tuple[str, dict[str, Any]]]


@dataclass
class World:
    name: str
    sim: Simulator
    clusters: tuple[str, ...]
    git: GitServer
    repo: WorkRepo
    workdir: Path
    redis_url: str
    apply_concurrency: int = 4
    up: Proc | None = None
    api_port: int = 0
    web_value: str = "v0"
    web_sha: str = ""
    extra: bool = True
    """Whether the web application still declares its `web-extra` ConfigMap."""
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store.connect(self.redis_url)

    # -- set-up

    @property
    def namespace(self) -> str:
        return self.name

    def app(self, short: str) -> str:
        return f"{self.name}-{short}"

    def start(self) -> None:
        ns = self.namespace
        self.repo.write(
            f"{ns}/web/ns.yaml", f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"
        )
        self.repo.write(f"{ns}/web/deployment.yaml", deployment("web"))
        self.repo.write(f"{ns}/web/config.yaml", configmap("web-config", self.web_value))
        self.repo.write(f"{ns}/web/extra.yaml", configmap("web-extra", "x"))
        self.repo.write(
            f"{ns}/api/ns.yaml", f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}-api\n"
        )
        self.repo.write(f"{ns}/api/config.yaml", configmap("api-config", "a"))
        self.web_sha = self.repo.commit(f"{self.name}: first")
        fleet = self.workdir / "fleet.yaml"
        clusters = "\n".join(
            f"  - {{name: {c}, kubeconfig: {self.sim.kubeconfig_path(c)}}}" for c in self.clusters
        )
        apps = "\n".join(
            f"  - {{name: {self.app(a)}, repository: {self.name}, path: {ns}/{a},"
            f" namespace: {ns if a == 'web' else ns + '-api'},"
            f" targets: {{clusters: [{', '.join(self.clusters)}]}},"
            " sync: {driftInterval: 10m}}"
            for a in APPS
        )
        url = self.git.git_url(self.repo.name)
        fleet.write_text(
            f"repositories:\n  - {{name: {self.name}, url: '{url}', interval: 2s}}\n"
            f"clusters:\n{clusters}\napplications:\n{apps}\n"
        )
        self.api_port = free_port()
        argv = up_argv(
            fleet,
            api_port=self.api_port,
            redis_url=self.redis_url,
            apply_concurrency=self.apply_concurrency,
        )
        env = up_env(self.workdir, FLEETSYNC_API_TOKEN=API_TOKEN, FLEETSYNC_RENDER_TIMEOUT="10")
        self.up = Proc(argv, env)
        self.wait_converged(timeout=120)

    def stop(self) -> None:
        if self.up is not None:
            self.up.stop()

    # -- changes

    def commit_web(self, value: str, *, drop_extra: bool = False) -> str:
        self.web_value = value
        self.repo.write(f"{self.namespace}/web/config.yaml", configmap("web-config", value))
        if drop_extra:
            self.repo.remove(f"{self.namespace}/web/extra.yaml")
            self.extra = False
        self.web_sha = self.repo.commit(f"{self.name}: web {value}")
        return self.web_sha

    # -- observing

    def statuses(self) -> dict[tuple[str, str], PairStatus | None]:
        return {
            (self.app(a), c): self.store.status(self.app(a), c) for a in APPS for c in self.clusters
        }

    def objects(self, cluster: str) -> Objects:
        found = {}
        for obj in self.sim.cluster(cluster).objects():
            meta = obj.get("metadata", {})
            mine = (self.namespace, f"{self.namespace}-api")
            if meta.get("namespace") in mine or (
                obj.get("kind") == "Namespace" and meta.get("name") in mine
            ):
                key = (meta.get("namespace", ""), obj["kind"], meta["name"])
                found[key] = (meta.get("uid", ""), dict(obj.get("data") or {}))
        return Objects(found)

    def declared(self) -> set[tuple[str, str, str]]:
        ns = self.namespace
        keys = {
            ("", "Namespace", ns),
            (ns, "Deployment", "web"),
            (ns, "ConfigMap", "web-config"),
            ("", "Namespace", f"{ns}-api"),
            (f"{ns}-api", "ConfigMap", "api-config"),
        }
        return keys | ({(ns, "ConfigMap", "web-extra")} if self.extra else set())

    def uids(self) -> dict[tuple[str, tuple[str, str, str]], str]:
        """uid of every declared object in every cluster."""
        found = {}
        for cluster in self.clusters:
            objects = self.objects(cluster).found
            for key in self.declared():
                if key in objects:
                    found[(cluster, key)] = objects[key][0]
        return found

    def pair_converged(self, app: str, status: PairStatus | None) -> bool:
        if status is None or status.sync is not SyncState.SYNCED:
            return False
        if status.health is not Health.HEALTHY:
            return False
        return app != self.app("web") or str(status.revision).endswith(self.web_sha)

    def stuck_pairs(self) -> list[str]:
        try:
            found = self.statuses()
        except UNAVAILABLE:
            return [f"{a}/{c}" for a, c in self.statuses_keys()]
        return [f"{a}/{c}" for (a, c), s in found.items() if not self.pair_converged(a, s)]

    def statuses_keys(self) -> list[tuple[str, str]]:
        return [(self.app(a), c) for a in APPS for c in self.clusters]

    def clusters_hold_the_commit(self) -> bool:
        for cluster in self.clusters:
            objects = self.objects(cluster).found
            config = objects.get((self.namespace, "ConfigMap", "web-config"))
            if config is None or config[1].get("value") != self.web_value:
                return False
            if set(self.declared()) - set(objects):
                return False
            if not self.extra and (self.namespace, "ConfigMap", "web-extra") in objects:
                return False
        return True

    def converged(self) -> bool:
        return not self.stuck_pairs() and self.clusters_hold_the_commit()

    def wait_converged(
        self, *, since: float | None = None, timeout: float = CONVERGE_TIMEOUT
    ) -> float:
        """Seconds from `since` (a time.monotonic(); default now) until converged."""
        start = time.monotonic() if since is None else since
        try:
            wait_for(self.converged, timeout=timeout, interval=0.2, what=f"{self.name} converged")
        except AssertionError as exc:
            log = self.workdir / "up.log"
            log.write_text(self.up.output() if self.up else "")
            raise AssertionError(
                f"{exc}: at {self.web_sha[:12]}, stuck: {self.stuck_pairs()}; "
                f"fleetsync up's output: {log}"
            ) from exc
        return time.monotonic() - start

    def orphans(self) -> int:
        if self.extra:
            return 0
        key = (self.namespace, "ConfigMap", "web-extra")
        return sum(1 for c in self.clusters if key in self.objects(c).found)

    def restarts(self) -> int:
        """Children `up` had to start again."""
        assert self.up is not None
        return self.up.count(r"restarting it in")

    def child_pid(self, marker: str) -> int:
        """The pid of `up`'s child whose command line holds `marker` (`apply@`, `fetch@`)."""
        assert self.up is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == self.up.pid and marker in cmdline:
                return int(entry.name)
        raise AssertionError(f"no child of fleetsync up runs {marker!r}")

    def render_processes(self) -> list[int]:
        """Render processes (`python -m fleetsync.shared.render.child`) under `up`."""
        assert self.up is not None
        parents: dict[int, int] = {}
        renders = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
            if b"fleetsync.shared.render.child" in argv:
                renders.append(int(entry.name))

        def under_up(pid: int) -> bool:
            seen = 0
            while pid > 1 and seen < 10:
                if pid == self.up.pid:  # type: ignore[union-attr]
                    return True
                pid, seen = parents.get(pid, 0), seen + 1
            return False

        return [pid for pid in renders if under_up(pid)]

    def converged_start(self) -> tuple[dict[tuple[str, tuple[str, str, str]], str], str, int]:
        """Wait for the fleet to converge, then what a fault's figures count from: the uids of
        the declared objects, the web application's commit and how many children `up` had to
        start again so far."""
        self.wait_converged()
        before = self.uids()
        return before, self.web_sha, self.restarts()

    def mark(self) -> int:
        """A position in `up`'s output, to look for lines printed after it."""
        assert self.up is not None
        return len(self.up.lines)


def lost_or_wrongly_deleted(
    before: dict[tuple[str, tuple[str, str, str]], str], world: World
) -> int:
    """Objects declared before and after the fault that are gone or were deleted and created
    again (another uid)."""
    after = world.uids()
    still = {k: uid for k, uid in before.items() if k[1] in world.declared()}
    return sum(1 for k, uid in still.items() if after.get(k) != uid)


class StatusWatch:
    """Samples every pair's status while a fault plays out and counts regressions: a pair
    shown at an older commit than it was already shown at, or Synced at a commit whose
    content its cluster does not hold."""

    def __init__(self, world: World, commits: list[str]) -> None:
        self.world = world
        self.order = {sha: i for i, sha in enumerate(commits)}
        self.best: dict[tuple[str, str], int] = {}
        self.regressions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="status-watch")

    def __enter__(self) -> StatusWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _rank(self, revision: str) -> int | None:
        sha = revision.rpartition("@sha1:")[2]
        return self.order.get(sha)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                found = self.world.statuses()
            except UNAVAILABLE:
                continue
            for key, status in found.items():
                if status is None or not key[0].endswith("-web"):
                    continue
                rank = self._rank(str(status.revision))
                if rank is None:
                    continue
                best = self.best.get(key, -1)
                if rank < best:
                    self.regressions.append(f"{key[0]}/{key[1]}: back to {status.revision}")
                self.best[key] = max(best, rank)


@dataclass
class FaultFigures:
    fault: str
    converge_seconds: float | None
    """None: not converged within the time the test gave it (see notes)."""
    lost_or_wrongly_deleted: int
    orphans: int
    pairs_stuck: int
    wrong_statuses: int
    manual_actions: int
    processes_restarted_by_up: int
    pairs: int
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fault_figures(
    world: World,
    fault: str,
    *,
    seconds: float,
    before: dict[tuple[str, tuple[str, str, str]], str],
    restarts: int,
    wrong_statuses: int,
    notes: str = "",
    also_lost: int = 0,
    also_pairs: int = 0,
) -> FaultFigures:
    """The goals' figures once a fault played out and the fleet converged `seconds` after it:
    objects lost since `before` (plus `also_lost` the fleet's applications do not count, a
    chart's), orphans, stuck pairs, `wrong_statuses`, processes `up` started again since it had
    started `restarts`, and the pairs (plus `also_pairs`); nobody acted by hand."""
    return FaultFigures(
        fault=fault,
        converge_seconds=round(seconds, 1),
        lost_or_wrongly_deleted=lost_or_wrongly_deleted(before, world) + also_lost,
        orphans=world.orphans(),
        pairs_stuck=len(world.stuck_pairs()),
        wrong_statuses=wrong_statuses,
        manual_actions=0,
        processes_restarted_by_up=world.restarts() - restarts,
        pairs=len(world.statuses_keys()) + also_pairs,
        notes=notes,
    )


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def aof_holds(data_dir: Path, text: bytes) -> bool:
    """Whether the append-only files under `data_dir` contain `text` (fsynced writes)."""
    return any(text in p.read_bytes() for p in data_dir.rglob("*.aof") if p.is_file())


def match_count(pattern: str, lines: list[str]) -> int:
    return sum(1 for line in lines if re.search(pattern, line))
