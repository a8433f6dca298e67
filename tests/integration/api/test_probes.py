"""Probes, metrics and the OpenAPI document through a real HTTP server."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fleetsync.scheduler.api import create_app
from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.api.webhook_verify import WebhookSecrets
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery
from tests.integration.api.conftest import (
    RunningApi,
    StartApi,
    example_fleet,
    publish,
    serving,
)
from tests.support.redis_server import free_port


def samples(api: RunningApi) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = api.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def pairs(sync: str, health: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return ("fleetsync_pairs", frozenset({("sync", sync), ("health", health)}))


def test_readyz_is_503_until_a_fleet_is_published(start_api: StartApi) -> None:
    api = start_api(published=False)
    assert api.http.get("/healthz").json() == {
        "status": "ok",
        "reason": "",
        "fleet_error": None,
    }
    waiting = api.http.get("/readyz")
    assert waiting.status_code == 503
    assert "no fleet declaration published" in waiting.json()["reason"]
    assert api.http.get("/api/v1/applications").status_code == 503
    publish(api.store, example_fleet())
    assert api.http.get("/readyz").status_code == 200


def test_readyz_and_metrics_report_an_unreachable_redis() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    store = Store.connect(nowhere)
    app = create_app(
        store,
        Sender(make_celery(Settings(redis_url=nowhere)), store),
        access=AccessPolicy(),
        webhook_secrets=WebhookSecrets(),
    )
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"].startswith(f"cannot reach Redis at {nowhere}: ")
        assert "fleetsync_store_up 0.0" in http.get("/metrics").text
        listing = http.get("/api/v1/applications")
        assert listing.status_code == 503 and listing.headers["retry-after"]
        assert f"cannot reach Redis at {nowhere}" in listing.json()["detail"]


def test_metrics_follow_the_store_at_scrape_time(start_api: StartApi) -> None:
    depths = {"poll": 0, "apply": 0}
    api = start_api(queue_depths=lambda: depths)
    before = samples(api)
    assert before[("fleetsync_store_up", frozenset())] == 1
    assert before[pairs("Unknown", "Unknown")] == 3
    assert before[pairs("Synced", "Healthy")] == 0

    store: Store = api.store
    store.record_status(
        PairStatus(
            application="guestbook",
            cluster="c1",
            sync=SyncState.SYNCED,
            health=Health.HEALTHY,
            revision=Revision(ref="main", sha="b" * 40),
            at=store.now(),
            duration=2.5,
        )
    )
    for event, n in (
        ("ls_remote", 4),
        ("render", 2),
        ("render_cache_hit", 3),
        ("notify_events", 2),
        ("notify_retry", 1),
    ):
        store.incr_stat(event, n)
    store.incr_stat("reconcile_synced", 2)
    store.incr_stat("reconcile_ms_synced", 3000)
    depths["apply"] = 7

    after = samples(api)
    assert after[pairs("Unknown", "Unknown")] == 2
    assert after[pairs("Synced", "Healthy")] == 1
    applications = (
        "fleetsync_applications",
        frozenset({("sync", "Unknown"), ("health", "Unknown")}),
    )
    assert after[applications] == 2
    pair = frozenset({("application", "guestbook"), ("cluster", "c1")})
    assert after[("fleetsync_pair_last_reconcile_duration_seconds", pair)] == 2.5
    assert after[("fleetsync_git_ls_remote_total", frozenset())] == 4
    hit = frozenset({("result", "hit")})
    assert after[("fleetsync_render_cache_lookups_total", hit)] == 3
    assert after[("fleetsync_render_cache_lookups_total", frozenset({("result", "miss")}))] == 2
    synced = frozenset({("result", "synced")})
    assert after[("fleetsync_reconciles_total", synced)] == 2
    assert after[("fleetsync_reconcile_duration_seconds_sum", synced)] == 3.0
    assert after[("fleetsync_queue_depth", frozenset({("queue", "apply")}))] == 7
    told = frozenset({("result", "events")})
    assert after[("fleetsync_notifications_total", told)] == 2
    assert after[("fleetsync_notifications_total", frozenset({("result", "retry")}))] == 1
    assert after[("fleetsync_notifications_total", frozenset({("result", "dropped")}))] == 0


def test_repository_failures_show_in_metrics(api: RunningApi) -> None:
    api.store.record_repo_error(RepoName("pinned"), "pinned: ls-remote failed")
    api.store.record_repo_error(RepoName("pinned"), "pinned: ls-remote failed")
    got = samples(api)
    failures = "fleetsync_repository_poll_failures"
    assert got[(failures, frozenset({("repository", "pinned")}))] == 2
    assert got[(failures, frozenset({("repository", "platform")}))] == 0


def test_openapi_document_describes_every_endpoint(api: RunningApi) -> None:
    paths = api.http.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/applications",
        "/api/v1/applications/{name}",
        "/api/v1/applications/{name}/clusters/{cluster}/history",
        "/api/v1/applications/{name}/sync",
        "/api/v1/clusters",
        "/api/v1/revisions/{revision}",
        "/api/v1/repositories",
        "/api/v1/repositories/{name}/refresh",
        "/webhooks/github",
        "/webhooks/gitlab",
        "/webhooks/gitea",
        "/webhooks/generic",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
