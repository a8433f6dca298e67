"""The source side end to end: a commit in a served git repository reaches a new bundle in Redis
through tick -> poll -> fetch -> render, with real Redis, a real Celery worker and git over the
network; and an idle fleet costs one ls-remote per interval and nothing more."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority
from fleetsync.workers.runtime import Runtime
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.waiting import wait_for


def _fleet_yaml(url: str) -> str:
    return textwrap.dedent(f"""\
        repositories:
          - name: platform
            url: {url}
            ref: main
            interval: 1s
        clusters:
          - {{name: c1, kubeconfig: /nonexistent/c1.yaml, labels: {{env: prod}}}}
          - {{name: c2, kubeconfig: /nonexistent/c2.yaml, labels: {{env: prod}}}}
        applications:
          - name: web
            repository: platform
            path: apps/web
            namespace: web
            targets: {{selector: {{matchLabels: {{env: prod}}}}}}
          - name: api
            repository: platform
            path: apps/api
            namespace: api
            targets: {{clusters: [c1]}}
          - name: broken
            repository: platform
            path: apps/broken
            namespace: broken
            targets: {{clusters: [c1]}}
        """)


@pytest.fixture
def pipeline(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[tuple[Runtime, Ticker, WorkRepo]]:
    repo = git_repo
    repo.write("apps/web/config.yaml", configmap("web", "1"))
    repo.write("apps/api/config.yaml", configmap("api", "1"))
    repo.write("apps/broken/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n")
    repo.commit("first")
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(_fleet_yaml(git_server.git_url(repo.bare.name.removesuffix(".git"))))
    rt = configure_workers(redis_url, tmp_path / "cache")
    ticker = Ticker(rt.store, rt.sender, fleet_file)
    with running_worker(("poll", "fetch")):
        yield rt, ticker, repo


def _queued_reconciles(store: Store) -> set[str]:
    prefix = store.key("queued", "apply", "fleetsync.apply.reconcile", "")
    return {k.decode()[len(prefix) :] for k in store.client.scan_iter(match=prefix + "*")}


def _tick_until(ticker: Ticker, condition: object, what: str) -> None:
    def tick_and_check() -> bool:
        ticker.tick()
        return bool(condition())  # type: ignore[operator]

    wait_for(tick_and_check, timeout=30, interval=0.2, what=what)


def test_a_commit_reaches_a_new_bundle_and_fans_out_to_every_target(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, repo = pipeline
    store = rt.store
    _tick_until(
        ticker,
        lambda: store.desired(AppName("api")) and store.desired(AppName("web")),
        "first render of web and api",
    )
    web = store.desired(AppName("web"))
    assert web is not None
    bundle = store.get_bundle(web.digest)
    assert bundle is not None
    assert [o["metadata"] for o in bundle.objects] == [{"name": "web", "namespace": "web"}]
    wait_for(
        lambda: {"web:c1", "web:c2", "api:c1"} <= _queued_reconciles(store),
        what="one reconcile per target of web and api",
    )
    assert _queued_reconciles(store) == {"web:c1", "web:c2", "api:c1"}
    store.client.delete(*store.client.keys(store.key("queued", "apply", "*")))

    repo.write("apps/web/config.yaml", configmap("web", "2"))
    sha = repo.commit("change web only")
    _tick_until(
        ticker,
        lambda: (d := store.desired(AppName("web"))) is not None and d.revision.sha == sha,
        "the new commit's bundle for web",
    )
    api = store.desired(AppName("api"))
    assert api is not None and api.revision.sha != sha
    assert api.observed is not None and api.observed.sha == sha
    # The fan-out walks applications in name order, so had api changed, its reconcile would be
    # queued before web's.
    wait_for(
        lambda: {"web:c1", "web:c2"} <= _queued_reconciles(store),
        what="the fan-out of the new commit",
    )
    assert _queued_reconciles(store) == {"web:c1", "web:c2"}


def test_a_failing_application_does_not_block_the_others_and_reports_file_and_line(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, _ = pipeline
    store = rt.store
    _tick_until(
        ticker,
        lambda: store.source_error(AppName("broken")) and store.desired(AppName("web")),
        "broken's render error and web's bundle",
    )
    error = store.source_error(AppName("broken"))
    assert error is not None
    assert re.search(r"apps/broken/bad\.yaml:\d+: invalid YAML", error.message), error.message
    assert store.desired(AppName("web")) is not None
    assert store.desired(AppName("broken")) is None


def test_an_idle_repository_costs_one_ls_remote_per_poll_and_no_fetch_or_render(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, _ = pipeline
    store = rt.store
    _tick_until(ticker, lambda: store.repo_state(RepoName("platform")).fetched_sha, "first fetch")
    wait_for(lambda: store.stats().get("render", 0) >= 2, what="first renders")
    before = store.stats()
    _tick_until(
        ticker,
        lambda: store.stats().get("ls_remote", 0) >= before.get("ls_remote", 0) + 3,
        "three more polls",
    )
    after = store.stats()
    assert after.get("fetch") == before.get("fetch")
    assert after.get("render") == before.get("render")
    assert after.get("render_cache_hit", 0) == before.get("render_cache_hit", 0)


def test_a_manual_refresh_fetches_again_and_reuses_every_cached_render(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, _ = pipeline
    store = rt.store
    _tick_until(ticker, lambda: store.repo_state(RepoName("platform")).fetched_sha, "first fetch")
    before = store.stats()
    assert rt.sender.poll("platform", force=True, priority=Priority.MANUAL)
    wait_for(
        lambda: store.stats().get("fetch", 0) == before.get("fetch", 0) + 1, what="the forced fetch"
    )
    wait_for(
        lambda: store.stats().get("render_cache_hit", 0) >= before.get("render_cache_hit", 0) + 2,
        what="render cache hits for web and api",
    )
    # Only `broken` renders again: a failed render is not cached, a good one is reused.
    assert store.stats().get("render") == before.get("render", 0) + 1


def test_a_webhooks_poll_fetches_a_moved_repository_in_the_same_task(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, repo = pipeline
    store = rt.store
    _tick_until(
        ticker, lambda: store.desired(AppName("web")), "the first render, by the beat's tasks"
    )
    # The fetch task stores each render before it counts itself done: wait for the count too.
    wait_for(lambda: store.stats().get("task:fetch:done", 0) >= 1, what="the beat's fetch task")
    before = store.stats()
    repo.write("apps/web/config.yaml", configmap("web", "2"))
    sha = repo.commit("change web")

    assert rt.sender.poll("platform", priority=Priority.MANUAL, fetch=True)

    wait_for(
        lambda: store.stats().get("task:poll:done", 0) == before.get("task:poll:done", 0) + 1,
        what="the webhook's poll",
    )
    web = store.desired(AppName("web"))
    assert web is not None and web.revision.sha == sha, "fetched and rendered by the poll"
    after = store.stats()
    assert after.get("fetch") == before.get("fetch", 0) + 1
    assert after.get("ls_remote") == before.get("ls_remote", 0) + 1
    assert after.get("task:fetch:done") == before.get("task:fetch:done"), "no fetch task"
    assert {"web:c1", "web:c2"} <= _queued_reconciles(store)


def test_a_webhooks_poll_of_a_repository_that_did_not_move_costs_one_ls_remote(
    pipeline: tuple[Runtime, Ticker, WorkRepo],
) -> None:
    rt, ticker, _ = pipeline
    store = rt.store
    _tick_until(ticker, lambda: store.repo_state(RepoName("platform")).fetched_sha, "first fetch")
    wait_for(lambda: store.stats().get("task:fetch:done", 0) >= 1, what="the first fetch task")
    before = store.stats()

    assert rt.sender.poll("platform", priority=Priority.MANUAL, fetch=True)

    wait_for(
        lambda: store.stats().get("task:poll:done", 0) == before.get("task:poll:done", 0) + 1,
        what="the webhook's poll",
    )
    after = store.stats()
    assert after.get("ls_remote") == before.get("ls_remote", 0) + 1
    assert after.get("fetch") == before.get("fetch") and after.get("render") == before.get("render")
