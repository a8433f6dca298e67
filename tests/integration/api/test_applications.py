"""The read API and manual triggers through a real HTTP server: what runs where, and who may
ask for a sync or a refresh."""

from __future__ import annotations

import json
from dataclasses import replace

from click.testing import CliRunner

from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.cli import main
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.report import HookOutcome, PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import DesiredState, Store
from fleetsync.shared.tasking import TaskName
from tests.integration.api.conftest import TOKEN, RunningApi, StartApi, bearer, example_fleet

REVISION = "main@sha1:" + "b" * 40


def record(
    store: Store,
    app: str,
    cluster: str,
    health: Health,
    sync: SyncState = SyncState.SYNCED,
    *,
    message: str = "3 objects: 1 created, 2 unchanged",
    hooks: tuple[HookOutcome, ...] = (),
) -> None:
    """A reconcile of `app` on `cluster` at REVISION, as a worker records it."""
    store.record_status(
        PairStatus(
            application=app,
            cluster=cluster,
            sync=sync,
            health=health,
            revision=Revision.parse(REVISION),
            digest=Digest("d" * 64),
            at=store.now(),
            duration=1.5,
            message=message,
            trigger=Trigger.CHANGE,
            hooks=hooks,
        )
    )


def desire(store: Store, app: str, *, warnings: tuple[str, ...] = ()) -> None:
    """`app`'s desired state: REVISION, rendered by the plain renderer."""
    store.set_desired(
        AppName(app),
        DesiredState(
            revision=Revision.parse(REVISION),
            digest=Digest("d" * 64),
            renderer="plain",
            rendered_at=1.0,
            warnings=warnings,
        ),
    )


def migrate_hook(state: str, message: str) -> HookOutcome:
    """The PreSync migration Job of guestbook's pair on c1."""
    return HookOutcome(
        phase="PreSync",
        key="batch/Job/web/migrate-",
        name="migrate-x7k2p",
        state=state,
        message=message,
        logs="kubectl logs job/migrate-x7k2p -n web",
    )


def test_applications_show_desired_state_and_each_target_including_unreconciled_ones(
    api: RunningApi,
) -> None:
    desire(api.store, "guestbook")
    api.store.set_source_error(AppName("api"), "apps/api: path does not exist", revision=REVISION)
    record(api.store, "guestbook", "c1", Health.HEALTHY)

    page = api.http.get("/api/v1/applications").json()
    assert (page["total"], page["offset"]) == (2, 0)
    listed = {a["name"]: a for a in page["items"]}
    guestbook = listed["guestbook"]
    assert guestbook["repository"] == "platform" and guestbook["path"] == "apps/guestbook"
    assert guestbook["desired"]["revision"] == REVISION
    assert [
        (c["cluster"], c["sync"], c["health"], c["revision"]) for c in guestbook["clusters"]
    ] == [("c1", "Synced", "Healthy", REVISION), ("c2", "Unknown", "Unknown", "")]
    assert guestbook["clusters"][1]["message"] == "not yet reconciled"
    assert guestbook["sync"] == "Unknown" and guestbook["health"] == "Unknown"
    assert listed["api"]["source_error"]["message"] == "apps/api: path does not exist"
    assert listed["api"]["suspended"] is False

    detail = api.http.get("/api/v1/applications/guestbook").json()
    c1, c2 = detail["clusters"]
    assert c1["message"] == "3 objects: 1 created, 2 unchanged" and c1["duration"] == 1.5
    assert (c2["sync"], c2["health"], c2["message"]) == ("Unknown", "Unknown", "not yet reconciled")

    history = api.http.get("/api/v1/applications/guestbook/clusters/c1/history").json()
    assert [h["revision"] for h in history] == [REVISION]
    assert api.http.get("/api/v1/applications/nope").status_code == 404
    assert api.http.get("/api/v1/applications/guestbook/clusters/nope/history").status_code == 404


def test_clusters_list_their_applications_and_worst_health(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", Health.HEALTHY)
    record(api.store, "guestbook", "c2", Health.DEGRADED, SyncState.OUT_OF_SYNC)
    record(api.store, "api", "c3", Health.PROGRESSING)
    clusters = {c["name"]: c for c in api.http.get("/api/v1/clusters").json()["items"]}
    assert clusters["c1"] == {
        "name": "c1",
        "labels": {"env": "prod"},
        "applications": ["guestbook"],
        "health": "Healthy",
        "sync": "Synced",
        "drift_detection": "interval checks only: no watcher process holds this cluster",
    }
    assert clusters["c2"]["health"] == "Degraded"
    assert clusters["c3"]["applications"] == ["api"]
    assert clusters["c3"]["health"] == "Progressing"


def test_a_cluster_declared_watch_false_says_so_in_the_clusters_list(
    start_api: StartApi,
) -> None:
    fleet = example_fleet()
    c3 = replace(fleet.clusters[ClusterName("c3")], watch=False)
    api = start_api(fleet=replace(fleet, clusters={**fleet.clusters, c3.name: c3}))
    body = api.http.get("/api/v1/clusters").json()
    detection = {c["name"]: c["drift_detection"] for c in body["items"]}
    assert detection == {
        "c1": "interval checks only: no watcher process holds this cluster",
        "c2": "interval checks only: no watcher process holds this cluster",
        "c3": "interval checks only: watch: false in fleet.yaml",
    }


def test_revision_lists_the_pairs_running_it_and_their_health(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", Health.HEALTHY)
    record(api.store, "guestbook", "c2", Health.DEGRADED)
    body = api.http.get(f"/api/v1/revisions/{REVISION}").json()
    assert body["health"] == "Degraded"
    assert [(p["application"], p["cluster"]) for p in body["pairs"]] == [
        ("guestbook", "c1"),
        ("guestbook", "c2"),
    ]
    assert body["converged"] == 1
    nothing = api.http.get("/api/v1/revisions/release/1.0@sha1:" + "c" * 40)
    assert nothing.status_code == 404 and "no pair runs" in nothing.json()["detail"]


def test_repositories_show_poll_state_and_refresh_enqueues_a_forced_manual_poll(
    api: RunningApi,
) -> None:
    api.store.record_poll(RepoName("platform"), sha="b" * 40, revision=REVISION)
    api.store.record_repo_error(RepoName("pinned"), "pinned: ls-remote failed: timeout")
    repos = {r["name"]: r for r in api.http.get("/api/v1/repositories").json()["items"]}
    assert repos["platform"]["sha"] == "b" * 40 and repos["platform"]["error"] is None
    assert repos["platform"]["applications"] == ["api", "guestbook"]
    assert repos["pinned"]["error"] == "pinned: ls-remote failed: timeout"

    assert api.http.post("/api/v1/repositories/platform/refresh").status_code == 401
    response = api.http.post("/api/v1/repositories/platform/refresh", headers=bearer())
    assert response.status_code == 202
    assert response.json() == {"enqueued": ["platform"], "already_queued": []}
    assert api.queued("poll") == [(TaskName.POLL.value, {"repo": "platform", "force": True}, 0)]
    missing = api.http.post("/api/v1/repositories/nope/refresh", headers=bearer())
    assert missing.status_code == 404


def test_sync_needs_the_token_and_enqueues_a_manual_reconcile_per_target(
    api: RunningApi,
) -> None:
    assert api.http.post("/api/v1/applications/guestbook/sync").status_code == 401
    wrong = api.http.post("/api/v1/applications/guestbook/sync", headers=bearer("guess"))
    assert wrong.status_code == 401
    assert TOKEN not in wrong.text and "guess" not in wrong.text
    assert api.queued("apply") == []

    response = api.http.post("/api/v1/applications/guestbook/sync", headers=bearer())
    assert response.status_code == 202, response.text
    assert response.json() == {
        "enqueued": [
            {"application": "guestbook", "cluster": "c1"},
            {"application": "guestbook", "cluster": "c2"},
        ],
        "already_queued": [],
        "refused": [],
    }
    again = api.http.post(
        "/api/v1/applications/guestbook/sync", headers=bearer(), json={"cluster": "c2"}
    )
    assert again.json() == {
        "enqueued": [],
        "already_queued": [{"application": "guestbook", "cluster": "c2"}],
        "refused": [],
    }
    reason = "manual"
    assert api.queued("apply") == [
        (TaskName.RECONCILE.value, {"app": "guestbook", "cluster": c, "reason": reason}, 0)
        for c in ("c1", "c2")
    ]


def test_sync_of_an_unknown_application_or_untargeted_cluster_is_404(api: RunningApi) -> None:
    unknown = api.http.post("/api/v1/applications/nope/sync", headers=bearer())
    assert unknown.status_code == 404
    untargeted = api.http.post(
        "/api/v1/applications/guestbook/sync", headers=bearer(), json={"cluster": "c3"}
    )
    assert untargeted.status_code == 404
    assert "c3" in untargeted.json()["detail"]
    assert api.queued("apply") == []


def test_changes_are_refused_without_a_configured_token_unless_insecure(
    start_api: StartApi,
) -> None:
    safe = start_api(access=AccessPolicy())
    refused = safe.http.post("/api/v1/applications/api/sync")
    assert refused.status_code == 403
    assert "FLEETSYNC_API_TOKEN" in refused.json()["detail"]
    assert safe.http.get("/api/v1/applications").status_code == 200

    insecure = start_api(access=AccessPolicy(insecure=True))
    assert insecure.http.post("/api/v1/applications/api/sync").status_code == 202
    assert len(insecure.queued("apply")) == 1


def test_reads_need_the_token_when_configured_to(start_api: StartApi) -> None:
    api = start_api(access=AccessPolicy(token=TOKEN, read_token_required=True))
    assert api.http.get("/api/v1/applications").status_code == 401
    assert api.http.get("/metrics").status_code == 401
    assert api.http.get("/api/v1/applications", headers=bearer()).status_code == 200
    assert api.http.get("/healthz").status_code == 200


def test_an_application_shows_what_its_render_skipped_and_a_pair_its_hooks(
    api: RunningApi,
) -> None:
    skipped = "apps/guestbook/fleet.yaml: not a Kubernetes object (no apiVersion or kind): skipped"
    desire(api.store, "guestbook", warnings=(skipped,))
    hook = migrate_hook("Running", "job is running")
    record(
        api.store,
        "guestbook",
        "c1",
        Health.PROGRESSING,
        SyncState.OUT_OF_SYNC,
        message="waiting for PreSync hooks: ...",
        hooks=(hook,),
    )

    detail = api.http.get("/api/v1/applications/guestbook").json()

    assert detail["desired"]["warnings"] == [skipped]
    (c1,) = [c for c in detail["clusters"] if c["cluster"] == "c1"]
    assert c1["hooks"] == [hook.to_json()]


def test_fleetsync_status_shows_a_pair_s_hooks_in_json_and_wide(
    api: RunningApi, redis_url: str
) -> None:
    hook = migrate_hook("Failed", "BackoffLimitExceeded")
    record(
        api.store,
        "guestbook",
        "c1",
        Health.DEGRADED,
        SyncState.OUT_OF_SYNC,
        message="batch/Job/web/migrate-x7k2p: PreSync hook failed",
        hooks=(hook,),
    )
    shown = CliRunner().invoke(
        main, ["status", "guestbook", "-o", "json", "--redis-url", redis_url]
    )
    wide = CliRunner().invoke(main, ["status", "guestbook", "-o", "wide", "--redis-url", redis_url])

    assert shown.exit_code == 0, shown.output
    (c1,) = [p for p in json.loads(shown.output) if p["cluster"] == "c1"]
    assert c1["hooks"] == [hook.to_json()]
    assert "PreSync migrate-x7k2p Failed" in wide.output
