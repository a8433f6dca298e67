"""The beat's cost per tick with many applications and repositories (`python -m bench.beat_tick`).

    python -m bench.beat_tick --apps 10000 --repos 1000 --clusters 100 [--seconds 30] [--out FILE]

A real redis-server; a fleet.yaml of R repositories (polled every `--poll` seconds) and A
applications (A / R per repository, each on one of C clusters, drift checked every `--drift`
seconds); the beat's tick (`scheduler/tick.py: Ticker.tick`) with a real Sender, whose
messages go to Redis as they do under `fleetsync up` (no worker takes them: the bench measures
the beat alone). Measured, each as wall and CPU milliseconds of the tick and the Redis commands
it sent:

1. the first read: fleet.yaml read, the declaration published, the due-sets planned (every
   repository is due within 5 s, every pair's first drift check after its interval);
2. steady ticks, every `--tick` seconds for `--seconds`, with every repository and pair due at a
   random time within its interval, as in a fleet running for a while (what the beat does most
   of the time: the polls and drift checks that came due, nothing else changing);
3. an edit of fleet.yaml (one application's path changed): read, published, planned again.

The beat reads fleet.yaml in a process of its own (`scheduler/fleet_reads.py`), so a read spans
several ticks: for the first read and the edit, ticks go on every `--tick` seconds until one
publishes, and the figures are the read's (wall time from the edit to its publication, this
process's CPU meanwhile, and the CPU of the reading process, which ends with the read), the
publishing tick's, and what the ticks sent
during the read: the longest gap between two ticks that sent something, from 5 s before the
edit to 5 s after its publication, says whether the beat stalled. A tick's `cpu_ms` is its own
thread's CPU. An engine whose tick reads fleet.yaml itself (before `fleet_reads`) is measured
by the same code: its read is one tick.

No cluster and no git server are involved: the tick reads and writes only Redis and the file.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench import runlog
from fleetsync.scheduler.embedded_redis import running_redis
from fleetsync.scheduler.tick import Ticker, TickReport
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import DueSet, Store
from fleetsync.shared.tasking import Sender, TaskName, make_celery


def write_fleet(
    path: Path, *, apps: int, repos: int, clusters: int, poll: int, drift: int, edit: int = 0
) -> None:
    """`edit` moves one application's path: a changed declaration, its render spec with it."""
    kubeconfig = path.parent / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    lines = ["repositories:"]
    lines += [
        f'  - {{name: r{r:04d}, url: "https://git.example.com/r{r:04d}.git", interval: {poll}s}}'
        for r in range(repos)
    ]
    lines.append("clusters:")
    lines += [f"  - {{name: c{c:04d}, kubeconfig: {kubeconfig}}}" for c in range(clusters)]
    lines.append("applications:")
    for a in range(apps):
        where = f"apps/a{a:05d}" + ("-moved" if a == 0 and edit else "")
        lines.append(
            f"  - {{name: a{a:05d}, repository: r{a % repos:04d}, path: {where}, "
            f"namespace: default, targets: {{clusters: [c{a % clusters:04d}]}}, "
            f"sync: {{driftInterval: {drift}s}}}}"
        )
    path.write_text("\n".join(lines) + "\n")


def spread_due(store: Store, which: DueSet) -> int:
    """Every member of the due-set due at a random time within its interval from now, as in
    a fleet that has run for a while."""
    zkey, hkey = store.key("due", which), store.key("due", which, "interval")
    intervals = {k.decode(): float(v) for k, v in store.client.hgetall(hkey).items()}
    now = store.now()
    store.client.zadd(zkey, {m: now + random.uniform(0, i) for m, i in intervals.items()})
    return len(intervals)


class Meter:
    """Wall and CPU milliseconds of this process and Redis commands (less the meter's own
    INFO) around one call; the redis-server's CPU over a whole window."""

    def __init__(self, store: Store, redis_pid: int) -> None:
        self.store = store
        self.redis = psutil.Process(redis_pid)

    def commands(self) -> int:
        return int(self.store.client.info("stats")["total_commands_processed"])

    def redis_cpu(self) -> float:
        times = self.redis.cpu_times()
        return float(times.user + times.system)

    def tick(self, ticker: Ticker) -> tuple[TickReport, dict[str, float]]:
        before = self.commands()
        cpu, wall = time.thread_time(), time.perf_counter()
        report = ticker.tick()
        figures = {
            "wall_ms": (time.perf_counter() - wall) * 1000,
            "cpu_ms": (time.thread_time() - cpu) * 1000,
            "redis_commands": float(self.commands() - before - 1),
        }
        return report, figures


class Timeline:
    """Every tick's end and whether it sent anything, for the gaps between sends."""

    def __init__(self) -> None:
        self.sends: list[float] = []

    def note(self, report: TickReport) -> None:
        if report.polls or report.drift_checks:
            self.sends.append(time.perf_counter())

    def longest_gap_ms(self, start: float, end: float) -> float:
        """The longest time between two ticks that sent something within [start, end], the
        window's ends counted as sends."""
        times = [start, *(t for t in self.sends if start < t < end), end]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0) * 1000


def read_until_published(
    meter: Meter, ticker: Ticker, timeline: Timeline, *, tick: float, limit: float = 3600.0
) -> dict[str, Any]:
    """Tick every `tick` seconds until a tick publishes the declaration read from fleet.yaml:
    the read's wall and process CPU, the ticks meanwhile and the publishing tick."""
    cpu, child, started = time.process_time(), _children_cpu(), time.perf_counter()
    rows: list[dict[str, Any]] = []
    while time.perf_counter() - started < limit:
        at = time.perf_counter()
        report, figures = meter.tick(ticker)
        timeline.note(report)
        row = _row(report, figures)
        if report.reloaded:
            during = rows
            return {
                "read_wall_ms": round((time.perf_counter() - started) * 1000, 1),
                "read_process_cpu_ms": round((time.process_time() - cpu) * 1000, 1),
                "read_child_cpu_ms": round((_children_cpu() - child) * 1000, 1),
                "ticks_during_read": len(during),
                "tick_wall_ms_max_during_read": max((r["wall_ms"] for r in during), default=0),
                "polls_during_read": sum(r["polls"] for r in during),
                "drift_checks_during_read": sum(r["drift_checks"] for r in during),
                "publishing_tick": row,
                "published_at": time.perf_counter(),
            }
        rows.append(row)
        time.sleep(max(0.0, tick - (time.perf_counter() - at)))
    raise RuntimeError(f"fleet.yaml not published after {limit:.0f} s")


def _children_cpu() -> float:
    """CPU seconds of the child processes that ended (a read's process; redis-server runs on)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_ticker(store: Store, sender: Sender, fleet_file: Path) -> Ticker:
    """The beat's ticker: reading fleet.yaml in the background where the engine can."""
    if "background" in inspect.signature(Ticker).parameters:
        return Ticker(store, sender, fleet_file, background=True)
    return Ticker(store, sender, fleet_file)


def _row(report: TickReport, figures: dict[str, float]) -> dict[str, Any]:
    return {
        **{k: round(v, 1) for k, v in figures.items()},
        "polls": len(report.polls),
        "drift_checks": len(report.drift_checks),
    }


def run(
    *, apps: int, repos: int, clusters: int, poll: int, drift: int, tick: float, seconds: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fleetsync-beat-tick-") as tmp:
        work = Path(tmp)
        fleet_file = work / "fleet.yaml"
        write_fleet(fleet_file, apps=apps, repos=repos, clusters=clusters, poll=poll, drift=drift)
        with running_redis(work) as url:
            store = Store.connect(url)
            redis_pid = int(store.client.info("server")["process_id"])
            meter = Meter(store, redis_pid)
            sender = Sender(make_celery(Settings(redis_url=url)), store)
            ticker = make_ticker(store, sender, fleet_file)
            timeline = Timeline()
            first = read_until_published(meter, ticker, timeline, tick=tick)
            first.pop("published_at")
            # What the first tick sent is taken by workers in a running fleet: its coalescing
            # marks go, so the same repositories coming due again are sent again.
            _clear_marks(store)
            spread_due(store, DueSet.POLL)
            spread_due(store, DueSet.DRIFT)
            rows, redis_cpu = [], meter.redis_cpu()
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                at = time.monotonic()
                report, figures = meter.tick(ticker)
                timeline.note(report)
                rows.append(_row(report, figures))
                time.sleep(max(0.0, tick - (time.monotonic() - at)))
            window = time.monotonic() - started
            redis_cpu = meter.redis_cpu() - redis_cpu
            write_fleet(
                fleet_file,
                apps=apps,
                repos=repos,
                clusters=clusters,
                poll=poll,
                drift=drift,
                edit=1,
            )
            edited_at = time.perf_counter()
            edited = read_until_published(meter, ticker, timeline, tick=tick)
            published_at = edited.pop("published_at")
            after = time.perf_counter()
            while time.perf_counter() - after < 5.0:
                at = time.perf_counter()
                timeline.note(meter.tick(ticker)[0])
                time.sleep(max(0.0, tick - (time.perf_counter() - at)))
            edited["longest_gap_between_sends_ms"] = round(
                timeline.longest_gap_ms(edited_at - 5.0, published_at + 5.0), 1
            )
            memory = int(store.client.info("memory")["used_memory"])
    return {
        "applications": apps,
        "repositories": repos,
        "clusters": clusters,
        "poll_seconds": poll,
        "drift_seconds": drift,
        "tick_seconds": tick,
        "first_read": first,
        "steady": {
            "ticks": len(rows),
            "seconds": round(window, 1),
            **{
                f"{k}_{stat}": round(fn([r[k] for r in rows]), 1)
                for k in ("wall_ms", "cpu_ms", "redis_commands", "polls", "drift_checks")
                for stat, fn in (("mean", statistics.mean), ("p95", _p95), ("max", max))
            },
            "polls_sent": sum(r["polls"] for r in rows),
            "drift_checks_sent": sum(r["drift_checks"] for r in rows),
            "redis_server_cpu_seconds_per_minute": round(redis_cpu / window * 60, 2),
        },
        "fleet_yaml_edit": edited,
        "redis_used_memory_mib": round(memory / 2**20, 1),
    }


def _clear_marks(store: Store) -> None:
    """Drop every poll's coalescing mark, as the poll tasks would on starting."""
    _, hkey = store._queued_index(TaskName.POLL.queue)
    for ident in store.client.hkeys(hkey):
        store.clear_queued(TaskName.POLL.queue, ident.decode())


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.beat_tick")
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--poll", type=int, default=60, help="repository interval, seconds")
    parser.add_argument("--drift", type=int, default=300, help="driftInterval, seconds")
    parser.add_argument("--tick", type=float, default=0.5, help="FLEETSYNC_TICK_SECONDS")
    parser.add_argument("--seconds", type=float, default=30.0, help="the steady window")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON line here")
    args = parser.parse_args(argv)
    context = runlog.context("bench.beat_tick", argv)
    runlog.stop_cleanly_on_term()
    result = run(
        apps=args.apps,
        repos=args.repos,
        clusters=args.clusters,
        poll=args.poll,
        drift=args.drift,
        tick=args.tick,
        seconds=args.seconds,
    )
    runlog.emit({**context, "load_average_end": runlog.load_average(), **result}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
