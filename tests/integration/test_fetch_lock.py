"""A fetch never blocks a worker waiting for another fetch of its repository: it queues itself
again with a countdown, the worker serves other repositories meanwhile, and the fetch runs once
the lock is free. Real Redis, a real Celery worker, git over the network."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fleetsync.shared.fleet import fleet_digest, parse_fleet
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.source import poll_repository
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"


def test_a_fetch_finding_its_repository_locked_requeues_and_frees_the_worker(
    redis_url: str, tmp_path: Path, git_server: GitServer, make_git_repo: object
) -> None:
    repos: dict[str, WorkRepo] = {}
    for name in ("busy", "other"):
        repo = make_git_repo()  # type: ignore[operator]
        repo.write("app/settings.yaml", CONFIGMAP)
        repo.commit(name)
        repos[name] = repo
    fleet = parse_fleet(
        textwrap.dedent(f"""\
            repositories:
              - {{name: busy, url: "{git_server.git_url(repos["busy"].bare.stem)}"}}
              - {{name: other, url: "{git_server.git_url(repos["other"].bare.stem)}"}}
            clusters: []
            applications:
              - {{name: busy-app, repository: busy, path: app, namespace: a, targets: {{}}}}
              - {{name: other-app, repository: other, path: app, namespace: b, targets: {{}}}}
            """),
        source="fleet.yaml",
        base_dir=tmp_path,
    )
    rt = configure_workers(redis_url, tmp_path / "cache")
    rt.store.publish_fleet(fleet, fleet_digest(fleet))
    for name in ("busy", "other"):
        assert poll_repository(rt.store, fleet, RepoName(name)).fetch_needed
    with running_worker(("fetch",), concurrency=1):
        with rt.store.try_lock("fetch:busy", ttl=120) as taken:  # another fetch at work
            assert taken
            rt.sender.fetch("busy")
            wait_for(lambda: rt.store.stats().get("fetch_busy"), what="the fetch finding busy")
            # The one worker thread is free: another repository is fetched meanwhile.
            rt.sender.fetch("other")
            wait_for(lambda: rt.store.desired(AppName("other-app")), what="other fetched")
            assert rt.store.desired(AppName("busy-app")) is None
        wait_for(
            lambda: rt.store.desired(AppName("busy-app")),
            timeout=30,
            what="busy fetched once its lock is free",
        )
    assert rt.store.stats()["fetch_busy"] >= 1
