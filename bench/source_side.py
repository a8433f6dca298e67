"""Source-side figures (issue 3): what idle polling and a monorepo commit cost.

    python bench/source_side.py [--repos 1000] [--apps 200] [--objects 1000]

Starts a real redis-server and a real git daemon, then drives the source side's own functions
(`poll_repository`, `fetch_repository`, the renderers) the way the poll and fetch tasks do, and
reports counts from the store's counters plus wall times:

1. idle polling: R repositories, fetched once, then polled again with no commit: ls-remotes,
   fetches (clones or fetches) and renders of the idle round;
2. monorepo: one repository with A applications, a commit touching one of them: renders and
   render-cache reuses of the commit's fetch;
3. a plain bundle of N objects rendered from a checkout.

Counts are exact; times are this machine's, on a shared 2-core box, for orientation only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetsync.scheduler.embedded_redis import running_redis
from fleetsync.shared.model.declaration import Application, Fleet, Repository
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.render import RenderRequest, render_bundle
from fleetsync.shared.source import fetch_repository, poll_repository
from fleetsync.shared.store import Store
from tests.support.git_server import GitServer


def configmap(name: str, value: str = "1") -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: {name}}}
        data: {{value: "{value}"}}
        """)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    keys = ("ls_remote", "fetch", "render", "render_cache_hit")
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys}


def idle_polling(store: Store, server: GitServer, repos: int, work: Path) -> dict[str, object]:
    names = [f"repo-{i:04d}" for i in range(repos)]
    repositories, apps = {}, {}
    for name in names:
        repo = server.create_repo(name)
        repo.write("app/cm.yaml", configmap(name))
        repo.commit("init")
        r = Repository(name=RepoName(name), url=server.git_url(name), interval=60.0)
        a = Application(name=AppName(name), repository=r.name, path="app", namespace="default")
        repositories[r.name], apps[a.name] = r, a
    fleet = Fleet(repositories=repositories, applications=apps)
    for name in names:
        poll_repository(store, fleet, RepoName(name))
        fetch_repository(
            store, fleet, RepoName(name), mirror_dir=work / "mirrors", scratch_dir=work / "scratch"
        )
    before = store.stats()
    started = time.perf_counter()
    fetches_needed = 0
    for name in names:
        outcome = poll_repository(store, fleet, RepoName(name))
        if outcome.fetch_needed:
            fetches_needed += 1
            fetch_repository(
                store,
                fleet,
                RepoName(name),
                mirror_dir=work / "mirrors",
                scratch_dir=work / "scratch",
            )
    elapsed = time.perf_counter() - started
    return {
        "repositories": repos,
        "idle_round": delta(store.stats(), before),
        "fetches_needed": fetches_needed,
        "idle_round_seconds": round(elapsed, 2),
        "ls_remote_ms_each": round(1000 * elapsed / repos, 1),
    }


def monorepo(store: Store, server: GitServer, apps_count: int, work: Path) -> dict[str, object]:
    repo = server.create_repo("monorepo")
    for i in range(apps_count):
        repo.write(f"apps/app-{i:03d}/cm.yaml", configmap(f"app-{i:03d}"))
    repo.commit("init")
    r = Repository(name=RepoName("monorepo"), url=server.git_url("monorepo"), interval=60.0)
    apps = {
        AppName(f"app-{i:03d}"): Application(
            name=AppName(f"app-{i:03d}"),
            repository=r.name,
            path=f"apps/app-{i:03d}",
            namespace="default",
        )
        for i in range(apps_count)
    }
    fleet = Fleet(repositories={r.name: r}, applications=apps)
    started = time.perf_counter()
    poll_repository(store, fleet, r.name)
    first = fetch_repository(
        store, fleet, r.name, mirror_dir=work / "mirrors", scratch_dir=work / "scratch"
    )
    first_seconds = time.perf_counter() - started
    repo.write("apps/app-007/cm.yaml", configmap("app-007", "2"))
    repo.commit("touch one application")
    before = store.stats()
    started = time.perf_counter()
    poll_repository(store, fleet, r.name)
    outcome = fetch_repository(
        store, fleet, r.name, mirror_dir=work / "mirrors", scratch_dir=work / "scratch"
    )
    commit_seconds = time.perf_counter() - started
    return {
        "applications": apps_count,
        "first_fetch_renders": len(first.rendered),
        "first_fetch_seconds": round(first_seconds, 2),
        "commit": delta(store.stats(), before),
        "commit_changed_applications": list(outcome.changed),
        "commit_seconds": round(commit_seconds, 2),
    }


def big_bundle(objects: int, work: Path) -> dict[str, object]:
    root = work / "big"
    (root / "app").mkdir(parents=True)
    (root / "app" / "all.yaml").write_text(
        "---\n".join(configmap(f"cm-{i:05d}") for i in range(objects))
    )
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        result = render_bundle(RenderRequest(root=root, path="app", app="big", namespace="default"))
        runs.append(time.perf_counter() - started)
    assert len(result.bundle.objects) == objects
    return {
        "objects": objects,
        "render_seconds_best": round(min(runs), 3),
        "render_seconds_median": round(sorted(runs)[2], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsync-bench-") as tmp:
        work = Path(tmp)
        (work / "redis").mkdir()
        with running_redis(work / "redis") as url, GitServer(work / "git") as server:
            store = Store.connect(url)
            results = {
                "idle_polling": idle_polling(store, server, args.repos, work),
                "monorepo": monorepo(store, server, args.apps, work),
                "plain_render": big_bundle(args.objects, work),
            }
    import json

    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
