"""The demo's flow: set up, start, watch the first rollout, commit, watch it roll out, then keep
running (or stop, with --once)."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console

from fleetsync.scheduler.cli.up import UpOptions, plan_processes
from fleetsync.scheduler.demo.charts import package_charts, serving_chart_repository
from fleetsync.scheduler.demo.fleet_file import cluster_labels, write_fleet
from fleetsync.scheduler.demo.repository import commit_change, create_repository
from fleetsync.scheduler.demo.watch import converged, follow_rollout, watch_until
from fleetsync.scheduler.embedded_redis import free_port, running_redis
from fleetsync.scheduler.instance import announced
from fleetsync.scheduler.supervisor import Supervisor
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, make_celery
from kubesim import Simulator


@dataclass(frozen=True, slots=True)
class DemoOptions:
    workdir: Path
    clusters: int = 6
    once: bool = False
    timeout: float = 180.0
    api_port: int = 0
    flower_port: int = 0


def run_demo(opts: DemoOptions, console: Console) -> int:
    """0 once the commit rolled out everywhere (and, without --once, after Ctrl-C); 1 otherwise."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    repo = opts.workdir / "repository"
    first = create_repository(repo)
    names = [f"sim-{i:03d}" for i in range(1, opts.clusters + 1)]
    console.print(f"[bold]fleetsync demo[/] in {opts.workdir}")
    console.print(
        f"  Git repository {repo} at {first[:12]} (guestbook: plain YAML, podinfo: "
        "kustomize overlay, redis: Helm chart)"
    )
    charts = package_charts(opts.workdir / "charts")
    with (
        Simulator(clusters=names, kubeconfig_dir=opts.workdir / "kubeconfigs") as sim,
        running_redis(_made(opts.workdir / "redis"), persist=True) as redis_url,
        serving_chart_repository(opts.workdir / "charts") as charts_url,
    ):
        listed = ", ".join(f"{name} {version}" for name, version in charts)
        console.print(f"  Helm chart repository {charts_url} (index.yaml; {listed})")
        groups = ", ".join(f"{n} {cluster_labels(i)}" for i, n in enumerate(names))
        console.print(f"  kubesim serving {len(names)} clusters at {sim.url}: {groups}")
        fleet_file = write_fleet(
            opts.workdir / "fleet.yaml",
            repository=repo,
            kubeconfigs={n: sim.kubeconfig_path(n) for n in names},
            bake=3 if opts.once else 20,
            charts_url=charts_url,
        )
        up = UpOptions(
            fleet_file=fleet_file,
            redis_url=redis_url,
            cache_dir=opts.workdir / "cache",
            api_port=opts.api_port or free_port(),
            flower_port=opts.flower_port or free_port(),
            tick_seconds=1.0,
            apply_concurrency=8,
            # A throwaway local demo on loopback: the API accepts changes without a token.
            extra_env={"FLEETSYNC_API_INSECURE": "1"},
        )
        log_path = opts.workdir / "fleetsync.log"
        console.print(f"  fleet.yaml {fleet_file}; process logs in {log_path}")
        with (
            log_path.open("w") as log,
            announced(
                redis_url,
                api_url=web_url(up),
                flower_url=f"http://127.0.0.1:{up.flower_port}",
            ),
        ):
            return _run(up, opts, console, log, repo, first)


def _run(
    up: UpOptions, opts: DemoOptions, console: Console, log: object, repo: Path, first: str
) -> int:
    supervisor = Supervisor(plan_processes(up), out=log)  # type: ignore[arg-type]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    store = Store.connect(up.redis_url)
    sender = Sender(make_celery(Settings(redis_url=up.redis_url)), store)

    def rolled_out(sha: str, title: str) -> bool:
        done = watch_until(
            store,
            converged(store, app="guestbook", sha=sha),
            title=title,
            timeout=opts.timeout,
            console=console,
            stopped=stop.is_set,
        )
        return done is not None

    try:
        supervisor.start()
        console.print(f"  started beat, workers, API and Flower (pids {supervisor.pids})")
        console.print(
            f"[bold]Open the web view: {web_url(up)}[/] (the fleet converging live; "
            f"Flower http://127.0.0.1:{up.flower_port})"
        )
        if not rolled_out(first, f"first rollout of {first[:12]}"):
            return _failed(console, stop, "the first rollout did not finish", opts.timeout)
        console.print(
            f"[green]every application Synced and Healthy on every cluster at {first[:12]}[/]"
        )
        second = commit_change(repo, "fleetsync guestbook, rolled out by GitOps")
        console.print(
            f"committed {second[:12]} (guestbook title changed); refreshing the "
            "repository as a Git webhook would"
        )
        sender.poll("demo", priority=Priority.MANUAL)
        if not follow_rollout(
            store, "guestbook", second, console=console, timeout=opts.timeout, stopped=stop.is_set
        ):
            return _failed(console, stop, "the guestbook's rollout did not complete", opts.timeout)
        if not rolled_out(second, f"rollout of {second[:12]}"):
            return _failed(console, stop, "the commit did not roll out", opts.timeout)
        console.print(
            f"[green]the commit rolled out: every application Synced and Healthy on "
            f"every simulated cluster at {second[:12]}[/]"
        )
        if opts.once:
            return 0
        console.print(
            f"Web view {web_url(up)}, API docs {web_url(up)}docs, Flower "
            f"http://127.0.0.1:{up.flower_port}, Redis {up.redis_url}. Try `fleetsync status` "
            "(it finds this demo). Ctrl-C stops."
        )
        stop.wait()  # a process that dies meanwhile is restarted (see the log)
        return 0
    finally:
        supervisor.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def web_url(up: UpOptions) -> str:
    return f"http://{up.api_host}:{up.api_port}/"


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _failed(console: Console, stop: threading.Event, what: str, timeout: float) -> int:
    if stop.is_set():
        console.print("stopped")
        return 130
    suffix = f" within {timeout:.0f}s" if timeout else ""
    console.print(f"[red]demo failed: {what}{suffix}; see the log for details[/]")
    return 1
