"""Benchmark: the web view's fleet page and the API over a large fleet's status in Redis.

    .venv/bin/python bench/web_bench.py [--apps 1000] [--clusters 100] [--requests 40]

A real redis-server holds a published declaration of APPS applications on CLUSTERS clusters and
one status per pair (written the way reconciles write them: status, history-less, cell and feed
entry, pipelined for speed); a real `fleetsync api` process serves them. The benchmark times
HTTP requests from this process (wall time per request, so it includes HTTP and JSON or HTML
rendering): the first one after start (the API loads every pair's cell once), then warm requests
with nothing changing, then warm requests while a writer records 200 status changes a second
(what drift checks of a busy fleet write). It reports the API process's resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from fleetsync.scheduler.embedded_redis import free_port, running_redis
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    Repository,
    Selector,
    Targets,
)
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.report import ObjectChange, PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store

TOKEN = "bench-token-0123456789abcdef"
PAGES = {
    "fleet page (HTML, 50 x 50)": "/",
    "fleet page, state filter Degraded": "/?state=Degraded",
    "GET /api/v1/fleet (50 x 50)": "/api/v1/fleet",
    "GET /api/v1/fleet?state=OutOfSync": "/api/v1/fleet?state=OutOfSync",
    "GET /api/v1/applications?limit=100": "/api/v1/applications?limit=100",
    "GET /api/v1/clusters?limit=100": "/api/v1/clusters?limit=100",
    "live poll, unchanged (204)": "/ui/fleet?since={version}",
}


def build_fleet(apps: int, clusters: int) -> Fleet:
    repo = Repository(RepoName("platform"), "https://git.example.com/org/platform.git", "main")
    cluster_list = [
        Cluster(ClusterName(f"c-{i:04d}"), f"/k/{i}", labels={"region": f"r{i % 4}"})
        for i in range(clusters)
    ]
    app_list = [
        Application(
            AppName(f"app-{i:04d}"),
            repo.name,
            f"apps/{i}",
            targets=Targets(selector=Selector()),
        )
        for i in range(apps)
    ]
    return Fleet(
        repositories={repo.name: repo},
        clusters={c.name: c for c in cluster_list},
        applications={a.name: a for a in app_list},
    )


def pair_status(app: str, cluster: str, rng: random.Random) -> PairStatus:
    roll = rng.random()
    sync, health = (SyncState.SYNCED, Health.HEALTHY)
    if roll < 0.03:
        sync, health = SyncState.OUT_OF_SYNC, Health.DEGRADED
    elif roll < 0.05:
        health = Health.PROGRESSING
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=sync,
        health=health,
        revision=Revision(ref="main", sha=hashlib.sha1(app.encode()).hexdigest()),
        digest=Digest(hashlib.sha256(app.encode()).hexdigest()),
        at=time.time() - rng.random() * 600,
        duration=0.4,
        message="3 unchanged" if health is Health.HEALTHY else "apps/Deployment/x/web: 1/2 ready",
        counts={"unchanged": 3},
        changes=tuple(
            ObjectChange(f"apps/Deployment/{app}/web-{i}", ChangeAction.UNCHANGED) for i in range(3)
        ),
        trigger=Trigger.DRIFT,
        stale_after=time.time() + 3600,
    )


def write_statuses(store: Store, fleet: Fleet) -> float:
    started = time.perf_counter()
    rng = random.Random(7)
    pipe = store.client.pipeline(transaction=False)
    n = 0
    for app in fleet.applications:
        for cluster in fleet.clusters:
            status = pair_status(app, cluster, rng)
            pipe.set(store.key("pair", app, cluster, "status"), json.dumps(status.to_json()))
            pipe.sadd(store.key("pairs", app), cluster)
            pipe.sadd(store.key("revision", str(status.revision)), f"{app}|{cluster}")
            store._note_cell(pipe, status)  # what record_status adds, without its extra GET
            n += 1
            if n % 2000 == 0:
                pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def timed(http: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = http.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code in (200, 204), (path, answer.status_code, answer.text[:300])
    return elapsed, answer


def measure(http: httpx.Client, requests: int) -> dict[str, list[float]]:
    version = http.get("/ui/fleet").headers["X-Fleetsync-Version"]
    times: dict[str, list[float]] = {}
    for name, path in PAGES.items():
        url = path.format(version=version)
        times[name] = [timed(http, url)[0] for _ in range(requests)]
    return times


def churn(store: Store, fleet: Fleet, stop: threading.Event, per_second: int) -> None:
    rng = random.Random(11)
    apps, clusters = list(fleet.applications), list(fleet.clusters)
    while not stop.is_set():
        tick = time.monotonic()
        for _ in range(per_second // 10):
            status = pair_status(rng.choice(apps), rng.choice(clusters), rng)
            store.record_status(status, history=False)
        stop.wait(max(0.0, 0.1 - (time.monotonic() - tick)))


def row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"| {name} | {statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    fleet = build_fleet(args.apps, args.clusters)
    with tempfile.TemporaryDirectory() as tmp, running_redis(Path(tmp)) as redis_url:
        store = Store.connect(redis_url)
        digest = hashlib.sha256(json.dumps(fleet.to_json()).encode()).hexdigest()
        store.publish_fleet(fleet, digest)
        wrote = write_statuses(store, fleet)
        pairs = args.apps * args.clusters
        print(f"wrote {pairs} statuses in {wrote:.1f}s")
        port = free_port()
        env = {
            **os.environ,
            "FLEETSYNC_REDIS_URL": redis_url,
            "FLEETSYNC_API_TOKEN": TOKEN,
            "FLEETSYNC_CACHE_DIR": str(Path(tmp) / "cache"),
        }
        api = subprocess.Popen(
            [sys.executable, "-P", "-m", "fleetsync", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit("fleetsync api did not start")
                    time.sleep(0.2)
                process = psutil.Process(api.pid)
                idle_rss = process.memory_info().rss
                first, _ = timed(http, "/api/v1/fleet")
                idle = measure(http, args.requests)
                stop = threading.Event()
                writer = threading.Thread(target=churn, args=(store, fleet, stop, 200))
                writer.start()
                try:
                    busy = measure(http, args.requests)
                finally:
                    stop.set()
                    writer.join()
                rss = process.memory_info().rss
        finally:
            api.terminate()
            api.wait(30)
    print(f"\n{args.apps} applications x {args.clusters} clusters = {pairs} pairs")
    print(f"first request (loads every cell): {first * 1000:.0f} ms")
    print(
        f"API process memory: {idle_rss / 2**20:.0f} MiB at start, "
        f"{rss / 2**20:.0f} MiB with every cell loaded"
    )
    for title, times in (("nothing changing", idle), ("200 status writes per second", busy)):
        print(f"\nwarm, {title} (ms, {args.requests} requests each)\n")
        print("| request | median | p95 | max |\n| --- | --- | --- | --- |")
        for name, samples in times.items():
            print(row(name, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
