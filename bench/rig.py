"""The benchmark rig: the whole system as real processes, one rig per scenario.

A redis-server, kubesim (`kubesim serve`, its own process so its CPU is measured apart), a git
daemon serving the scenario's repositories (the test suite's GitServer), and fleetsync's beat,
poll/fetch worker, apply worker(s) and optionally the API, started as `fleetsync up` starts them.
The rig reads what happened from the store (statuses, event counters), kubesim's admin endpoint
(requests by verb), Redis INFO (commands) and /proc (CPU seconds, RSS and connections to
kubesim per process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

from fleetsync.scheduler.cli.up import UpOptions, plan_processes
from fleetsync.scheduler.embedded_redis import free_port, running_redis
from fleetsync.scheduler.supervisor import ProcessSpec, Supervisor
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, make_celery
from kubesim import cluster_names
from tests.support.git_server import GitServer, WorkRepo  # the test suite's git daemon

WEBHOOK_SECRET = "bench-webhook-secret"
WRITE_VERBS = ("create", "update", "patch", "apply", "delete", "deletecollection")


def app_manifests(name: str, value: str, namespace: str = "default") -> str:
    """A small application: a ConfigMap, a Service and a Deployment."""
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: {namespace}}}
data: {{value: "{value}"}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: {name}, image: "nginx:1.27"}}]}}
"""


@dataclass(frozen=True, slots=True)
class RigOptions:
    clusters: int
    apply_workers: int = 1
    apply_concurrency: int = 16
    tick_seconds: float = 0.5
    with_api: bool = False
    env: tuple[tuple[str, str], ...] = ()
    """Settings of every fleetsync process (FLEETSYNC_CLUSTER_BATCH...)."""
    watch: bool = True
    """Run the watcher (event-driven drift detection), as `fleetsync up` does by default."""
    kubeconfigs: tuple[tuple[str, Path], ...] = ()
    """Real clusters (name, kubeconfig) to use instead of kubesim's `clusters`: no kubesim is
    started, and no Kubernetes request is counted (`kube_counts` is empty)."""
    task_lines: bool = False
    """Workers at DEBUG, so that Celery logs each task's "received" and "succeeded in" lines
    (bench/stages.py reads them), and every line as JSON with its time in milliseconds."""


def converged_pairs(
    store: Store, pairs: Iterable[tuple[str, str]], sha: str
) -> dict[tuple[str, str], float]:
    """Pairs Synced on their own desired bundle once their application observed `sha`: their
    status time. Each pair is compared with what its cluster should run: the application's
    bundle, or, with per-cluster variants, the cluster's own (a cluster whose own render
    failed is OutOfSync, so never counted)."""
    done = {}
    wanted = list(pairs)
    # A few round trips per look, whatever the number of pairs: the rig's own reads must not
    # load the 2 cores the system under test runs on.
    apps = sorted({app for app, _ in wanted})
    states = store.app_states(apps)
    own = {
        app: store.variants(AppName(app), [ClusterName(c) for a, c in wanted if a == app])
        for app in apps
        if (d := states[app].desired) is not None and d.variants
    }
    for (app, cluster), status in zip(wanted, store.statuses_of(wanted), strict=True):
        desired = states[app].desired
        if desired is None or desired.observed is None or not desired.observed.sha.startswith(sha):
            continue
        variant = own[app].get(ClusterName(cluster)) if app in own else None
        digest = variant.digest if variant is not None else None if app in own else desired.digest
        if (
            status is not None
            and digest
            and status.digest == digest
            and status.sync.value == "Synced"
        ):
            done[(app, cluster)] = status.at
    return done


class Rig:
    def __init__(self, work: Path, opts: RigOptions) -> None:
        self.work = work
        self.opts = opts
        self.clusters = [name for name, _ in opts.kubeconfigs] or cluster_names(opts.clusters)
        self._kubesim: str | None = None
        self._kubesim_proc: subprocess.Popen[str] | None = None
        self._stack = ExitStack()
        self.fleet_file = work / "fleet.yaml"

    def __enter__(self) -> Rig:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "redis").mkdir(exist_ok=True)
        self.redis_url = self._stack.enter_context(running_redis(self.work / "redis"))
        self.kubeconfigs = self.work / "kubeconfigs"
        if self.opts.kubeconfigs:
            self.kubeconfigs.mkdir(exist_ok=True)
            for name, path in self.opts.kubeconfigs:
                (self.kubeconfigs / f"{name}.kubeconfig").symlink_to(path.resolve())
        else:
            self._kubesim = self._start_kubesim()
        self.git = self._stack.enter_context(GitServer(self.work / "git"))
        self.fleet_file.write_text("repositories: []\nclusters: []\napplications: []\n")
        self.api_port = free_port()
        up = UpOptions(
            fleet_file=self.fleet_file,
            redis_url=self.redis_url,
            cache_dir=self.work / "cache",
            api_port=self.api_port,
            apply_concurrency=self.opts.apply_concurrency,
            tick_seconds=self.opts.tick_seconds,
            with_api=self.opts.with_api,
            with_flower=False,
            with_watch=self.opts.watch,
            extra_env={
                "FLEETSYNC_WEBHOOK_SECRET": WEBHOOK_SECRET,
                **({"FLEETSYNC_LOG_FORMAT": "json"} if self.opts.task_lines else {}),
                **dict(self.opts.env),
            },
        )
        specs = plan_processes(up)
        if self.opts.task_lines:
            specs = [_at_debug(s) if s.name in ("fetch", "apply") else s for s in specs]
        apply_spec = next(s for s in specs if s.name == "apply")
        for n in range(2, self.opts.apply_workers + 1):
            argv = [a.replace("apply@", f"apply{n}@") for a in apply_spec.argv]
            specs.append(ProcessSpec(f"apply{n}", argv, apply_spec.env))
        self._log = (self.work / "processes.log").open("w")
        # Workers still waiting on a hung cluster at the end are not worth a long warm shutdown.
        self.supervisor = Supervisor(specs, out=self._log, stop_timeout=3.0)
        self.supervisor.start()
        self._stack.callback(self._stop)
        self.store = Store.connect(self.redis_url)
        self.sender = Sender(make_celery(Settings(redis_url=self.redis_url)), self.store)
        if self.opts.with_api:
            self._wait(lambda: self._api_ready(), 180, "the API")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _stop(self) -> None:
        self.supervisor.stop()
        self._log.close()

    def _start_kubesim(self) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "kubesim"),
                "serve",
                "--clusters",
                str(self.opts.clusters),
                "--port",
                str(port),
                "--kubeconfig-dir",
                str(self.kubeconfigs),
                "--ready-delay",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._kubesim_proc = proc

        def stop() -> None:
            # A thousand clusters' servers take a while to close on a loaded machine: a slow
            # stop must not throw away the figures measured before it.
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        self._stack.callback(stop)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"kubesim did not start: {line}")
        # The rest of its output to a file: a pipe nobody reads fills, and a kubesim whose log
        # line cannot be written stops serving every cluster.
        threading.Thread(
            target=_copy_lines,
            args=(proc.stdout, self.work / "kubesim.log"),
            name="kubesim-log",
            daemon=True,
        ).start()
        return f"http://127.0.0.1:{port}"

    # -- the fleet -------------------------------------------------------------------------

    def repo(self, name: str) -> WorkRepo:
        return self.git.create_repo(name)

    def write_fleet(
        self,
        repos: dict[str, float],
        apps: Iterable[tuple[str, str, str, str]],
        *,
        drift: str = "5m",
    ) -> None:
        """repos: name -> poll interval seconds; apps: (name, repo, path, target selector
        or comma-separated cluster names)."""
        lines = ["repositories:"]
        lines += [
            f'  - {{name: {r}, url: "{self.git.git_url(r)}", interval: {int(i)}s}}'
            for r, i in repos.items()
        ]
        lines.append("clusters:")
        lines += [
            f"  - {{name: {c}, kubeconfig: {self.kubeconfigs / (c + '.kubeconfig')}, "
            f"labels: {{fleet: bench}}}}"
            for c in self.clusters
        ]
        lines.append("applications:")
        for name, repo, path, target in apps:
            targets = (
                "{selector: {matchLabels: {fleet: bench}}}"
                if target == "*"
                else f"{{clusters: [{target}]}}"
            )
            lines.append(
                f"  - {{name: {name}, repository: {repo}, path: {path}, "
                f"namespace: default, targets: {targets}, "
                f"sync: {{driftInterval: {drift}}}}}"
            )
        self.fleet_file.write_text("\n".join(lines) + "\n")

    def converged(self, pairs: Iterable[tuple[str, str]], sha: str) -> dict[tuple[str, str], float]:
        """Pairs Synced at a revision from `sha`: their status time."""
        return converged_pairs(self.store, pairs, sha)

    def wait_converged(
        self, pairs: list[tuple[str, str]], sha: str, timeout: float
    ) -> dict[tuple[str, str], float]:
        deadline = time.monotonic() + timeout
        done: dict[tuple[str, str], float] = {}
        while True:
            # A pair once Synced at the commit keeps the time it was seen at: only the others
            # are read again (a later drift check rewrites a status, not when it converged).
            done.update(self.converged([p for p in pairs if p not in done], sha))
            if len(done) == len(pairs) or time.monotonic() > deadline:
                return done
            # Each look reads every pair's status: at 50,000 pairs a look every half second
            # would load the cores the system under test runs on. The times reported are the
            # statuses' own, not the look's.
            time.sleep(0.1 if len(pairs) < 1000 else 0.5 if len(pairs) <= 10_000 else 3.0)

    # -- what happened ---------------------------------------------------------------------

    def kube_counts(self, *, reset: bool = False) -> Counter[tuple[str, str]]:
        if self._kubesim is None:
            return Counter()  # real clusters: their requests are not counted here
        url = f"{self._kubesim}/_kubesim/requests"
        body = httpx.get(url, timeout=10).json()
        if reset:
            httpx.delete(url, timeout=10)
        return Counter({(c["verb"], c["resource"]): c["count"] for c in body["counts"]})

    def kube_connections_accepted(self, *, reset: bool = False) -> int:
        """Connections kubesim accepted (from every process) since it started or the last
        reset (0 on real clusters: not counted)."""
        if self._kubesim is None:
            return 0
        url = f"{self._kubesim}/_kubesim/connections"
        accepted = int(httpx.get(url, timeout=10).json()["accepted"])
        if reset:
            httpx.delete(url, timeout=10)
        return accepted

    def wait_kube_quiet(self, quiet: float = 2.0, timeout: float = 60.0) -> bool:
        """Wait until kubesim served no request for `quiet` seconds (a watch held open counts
        once, when it starts): what earlier steps set going (the watch process starting its
        watches, health follow-ups) is then not counted with the next step. Whether it got
        quiet before `timeout`."""
        deadline = time.monotonic() + timeout
        last, since = self.kube_counts(), time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() - since >= quiet:
                return True
            time.sleep(0.25)
            now = self.kube_counts()
            if now != last:
                last, since = now, time.monotonic()
        return False

    def set_fault(self, cluster: str, **fault: Any) -> None:
        httpx.put(f"{self._kubesim}/_kubesim/clusters/{cluster}/faults", json=fault, timeout=10)

    def redis_commands(self) -> int:
        return int(self.store.client.info("stats")["total_commands_processed"])

    def redis_calls(self) -> Counter[str]:
        """Calls so far by Redis command (INFO commandstats)."""
        stats = self.store.client.info("commandstats")
        return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})

    def processes(self) -> dict[str, psutil.Process]:
        found = {name: psutil.Process(pid) for name, pid in self.supervisor.pids.items()}
        if self._kubesim_proc is not None:
            found["kubesim"] = psutil.Process(self._kubesim_proc.pid)
        return found

    def kube_connections(self, name: str) -> int:
        """Established TCP connections process `name` (with its children) holds to kubesim now:
        what its Kubernetes clients' connection pools keep (0 on real clusters: not counted)."""
        if self._kubesim is None:
            return 0
        port = int(self._kubesim.rsplit(":", 1)[1])
        proc = self.processes()[name]
        return sum(_kube_connections(p, port) for p in [proc, *proc.children(recursive=True)])

    def cpu_seconds(self) -> dict[str, float]:
        seconds = {}
        for name, proc in self.processes().items():
            tree = [proc, *proc.children(recursive=True)]
            seconds[name] = sum(_cpu(p) for p in tree)
        return seconds

    def rss_mib(self, name: str) -> float:
        proc = self.processes()[name]
        return sum(_rss(p) for p in [proc, *proc.children(recursive=True)]) / 2**20

    def refresh(self, repo: str) -> None:
        """What a push notification does: poll the repository now, ahead of periodic polls."""
        self.sender.poll(repo, priority=Priority.MANUAL)

    def webhook(self, repo: str) -> int:
        import hashlib
        import hmac

        body = json.dumps({"repository": repo, "ref": "refs/heads/main"}).encode()
        sig = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = httpx.post(
            f"http://127.0.0.1:{self.api_port}/webhooks/generic",
            content=body,
            headers={"X-Fleetsync-Signature": f"sha256={sig}"},
            timeout=10,
        )
        return answer.status_code

    def _api_ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.api_port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    @staticmethod
    def _wait(check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.1)


def _at_debug(spec: ProcessSpec) -> ProcessSpec:
    argv = list(spec.argv)
    at = argv.index("--loglevel")
    argv[at + 1] = "DEBUG"
    return ProcessSpec(spec.name, argv, spec.env)


def _cpu(proc: psutil.Process) -> float:
    try:
        times = proc.cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


def _kube_connections(proc: psutil.Process, port: int) -> int:
    try:
        found = proc.net_connections(kind="tcp")
    except psutil.Error:
        return 0
    return sum(
        1 for c in found if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr[1] == port
    )


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def writes(counts: Counter[tuple[str, str]]) -> int:
    """Real writes (dry-runs are counted by kubesim under `<verb>-dry-run`)."""
    return sum(n for (verb, _), n in counts.items() if verb in WRITE_VERBS)


__all__ = ["Rig", "RigOptions", "app_manifests", "replace", "writes"]


def _copy_lines(source: IO[str], path: Path) -> None:
    """Copy `source` to the file at `path`, line by line, until it ends."""
    with path.open("a") as out:
        for line in source:
            out.write(line)
            out.flush()
