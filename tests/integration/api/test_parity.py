"""Every CLI operation has an endpoint; lists page and filter; bad names and filters get a clear
404 or 400; a read-only token reads and is refused changes. Real HTTP, real Redis."""

from __future__ import annotations

import re

import httpx

from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.ids import AppName, Digest
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import DesiredState, Store
from fleetsync.shared.tasking import TaskName
from tests.integration.api.conftest import TOKEN, RunningApi, StartApi, bearer

OLD = "main@sha1:" + "a1" * 20
NEW = "main@sha1:" + "b2" * 20
READ_TOKEN = "read-only-token-0123456789"


def record(
    store: Store, app: str, cluster: str, revision: str, health: Health, digest: str
) -> None:
    store.record_status(
        PairStatus(
            application=app,
            cluster=cluster,
            sync=SyncState.SYNCED if health is Health.HEALTHY else SyncState.OUT_OF_SYNC,
            health=health,
            revision=revision,
            digest=digest,
            at=store.now(),
            message="ok",
        )
    )


def bundle(value: str) -> Bundle:
    return Bundle.of(
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": value}}]
    )


def test_sync_honours_the_cluster_in_the_query_and_refuses_conflicts(api: RunningApi) -> None:
    only = api.http.post("/api/v1/applications/guestbook/sync?cluster=c2", headers=bearer())
    assert only.status_code == 202
    assert only.json()["enqueued"] == [{"application": "guestbook", "cluster": "c2"}]
    assert [kw["cluster"] for _, kw, _ in api.queued("apply")] == ["c2"]
    both = api.http.post(
        "/api/v1/applications/guestbook/sync?cluster=c1", headers=bearer(), json={"cluster": "c2"}
    )
    assert both.status_code == 400 and "give one" in both.json()["detail"]
    unknown = api.http.post("/api/v1/applications/guestbook/sync?cluster=mars", headers=bearer())
    assert unknown.status_code == 404 and "mars: no such cluster" in unknown.json()["detail"]
    assert len(api.queued("apply")) == 1


def test_rollback_suspend_and_resume_have_endpoints(api: RunningApi) -> None:
    old, new = bundle("old"), bundle("new")
    api.store.put_bundle(old)
    api.store.put_bundle(new)
    for revision, b in ((OLD, old), (NEW, new)):
        record(api.store, "guestbook", "c1", revision, Health.HEALTHY, b.digest)
    api.store.set_desired(
        AppName("guestbook"),
        DesiredState(revision=NEW, digest=Digest(new.digest), renderer="plain", rendered_at=1.0),
    )
    assert api.http.post("/api/v1/applications/guestbook/suspend").status_code == 401

    suspended = api.http.post("/api/v1/applications/guestbook/suspend", headers=bearer())
    assert suspended.status_code == 200 and api.store.is_suspended("guestbook")

    rolled = api.http.post(
        "/api/v1/applications/guestbook/rollback", headers=bearer(), json={"revision": "a1a1a1"}
    )
    assert rolled.status_code == 202, rolled.text
    assert rolled.json()["revision"] == OLD
    pin = api.store.pin("guestbook")
    assert pin is not None and pin.digest == old.digest
    never = api.http.post(
        "/api/v1/applications/guestbook/rollback", headers=bearer(), json={"revision": "ffff"}
    )
    assert never.status_code == 404 and "not in its history" in never.json()["detail"]

    resumed = api.http.post("/api/v1/applications/guestbook/resume", headers=bearer())
    assert resumed.status_code == 202
    assert api.store.pin("guestbook") is None and not api.store.is_suspended("guestbook")
    assert {kw["cluster"] for name, kw, _ in api.queued("apply")} == {"c1", "c2"}
    assert all(name == TaskName.RECONCILE.value for name, _, _ in api.queued("apply"))


def test_refresh_of_an_application_polls_its_repository(api: RunningApi) -> None:
    answer = api.http.post("/api/v1/applications/api/refresh", headers=bearer())
    assert answer.status_code == 202 and answer.json()["enqueued"] == ["platform"]
    assert api.queued("poll") == [(TaskName.POLL.value, {"repo": "platform", "force": True}, 0)]


def test_a_read_only_token_reads_and_is_refused_every_change(start_api: StartApi) -> None:
    api = start_api(
        access=AccessPolicy(token=TOKEN, read_token=READ_TOKEN, read_token_required=True)
    )
    assert api.http.get("/api/v1/applications").status_code == 401
    assert api.http.get("/api/v1/applications", headers=bearer(READ_TOKEN)).status_code == 200
    for action in ("sync", "refresh", "suspend", "resume"):
        refused = api.http.post(
            f"/api/v1/applications/guestbook/{action}", headers=bearer(READ_TOKEN)
        )
        assert refused.status_code == 403, action
        assert "may only read" in refused.json()["detail"]
    assert api.http.post("/api/v1/applications/guestbook/sync").status_code == 401
    assert api.queued("apply") == [] and api.queued("poll") == []


def test_revisions_resolve_a_sha_or_a_unique_prefix_and_404_for_one_nothing_runs(
    api: RunningApi,
) -> None:
    record(api.store, "guestbook", "c1", OLD, Health.HEALTHY, "d" * 64)
    record(api.store, "guestbook", "c2", OLD, Health.DEGRADED, "d" * 64)
    record(api.store, "api", "c3", "main@sha1:" + "a1b" + "0" * 37, Health.HEALTHY, "e" * 64)
    full = api.http.get(f"/api/v1/revisions/{OLD}").json()
    by_sha = api.http.get(f"/api/v1/revisions/{'a1' * 20}").json()
    by_prefix = api.http.get("/api/v1/revisions/a1a1").json()
    assert full == by_sha == by_prefix
    assert full["revision"] == OLD and full["converged"] == 1 and full["health"] == "Degraded"
    ambiguous = api.http.get("/api/v1/revisions/a1")
    assert ambiguous.status_code == 404  # shorter than 4 hex digits
    two = api.http.get("/api/v1/revisions/a1b")
    assert two.status_code == 400 or two.status_code == 404
    clash = api.http.get("/api/v1/revisions/a1b0")
    assert clash.status_code == 200 and clash.json()["pairs"][0]["application"] == "api"
    nothing = api.http.get("/api/v1/revisions/" + "c" * 40)
    assert nothing.status_code == 404 and "c" * 40 in nothing.json()["detail"]


def test_an_ambiguous_prefix_is_a_400_listing_the_candidates(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", "main@sha1:abcd1" + "0" * 35, Health.HEALTHY, "d" * 64)
    record(api.store, "api", "c3", "main@sha1:abcd2" + "0" * 35, Health.HEALTHY, "d" * 64)
    answer = api.http.get("/api/v1/revisions/abcd")
    assert answer.status_code == 400
    assert "ambiguous" in answer.json()["detail"] and "abcd1" in answer.json()["detail"]


def test_lists_page_and_filter_and_bad_filters_say_why(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", OLD, Health.HEALTHY, "d" * 64)
    record(api.store, "guestbook", "c2", OLD, Health.DEGRADED, "d" * 64)
    first = api.http.get("/api/v1/applications?limit=1").json()
    second = api.http.get("/api/v1/applications?limit=1&offset=1").json()
    assert first["total"] == second["total"] == 2
    assert [a["name"] for a in first["items"] + second["items"]] == ["api", "guestbook"]
    degraded = api.http.get("/api/v1/applications?state=degraded").json()
    assert [a["name"] for a in degraded["items"]] == ["guestbook"]
    dev = api.http.get("/api/v1/applications", params={"selector": "env notin (prod)"}).json()
    assert [a["name"] for a in dev["items"]] == ["api"]
    on_c1 = api.http.get("/api/v1/applications?cluster=c1").json()
    assert [[c["cluster"] for c in a["clusters"]] for a in on_c1["items"]] == [["c1"]]
    clusters = api.http.get("/api/v1/clusters?selector=env%3Dprod&limit=1").json()
    assert clusters["total"] == 2 and [c["name"] for c in clusters["items"]] == ["c1"]

    bad_selector = api.http.get("/api/v1/applications", params={"selector": "env in prod"})
    assert bad_selector.status_code == 400 and "env in prod" in bad_selector.json()["detail"]
    bad_state = api.http.get("/api/v1/applications?state=Sunny")
    assert bad_state.status_code == 400 and "Sunny" in bad_state.json()["detail"]
    assert api.http.get("/api/v1/applications?limit=0").status_code in (400, 422)
    unknown = api.http.get("/api/v1/clusters?cluster=mars")
    assert unknown.status_code == 404 and "mars" in unknown.json()["detail"]
    assert "nope" in api.http.get("/api/v1/applications/nope/history").json()["detail"]


def test_the_fleet_matrix_counts_every_pair_and_pages_both_ways(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", OLD, Health.HEALTHY, "d" * 64)
    record(api.store, "guestbook", "c2", OLD, Health.DEGRADED, "d" * 64)
    matrix = api.http.get("/api/v1/fleet?cluster_limit=2").json()
    assert matrix["sync_counts"] == {"Synced": 1, "OutOfSync": 1, "Unknown": 1}
    assert matrix["health_counts"]["Degraded"] == 1 and matrix["health_counts"]["Unknown"] == 1
    assert [c["cluster"] for c in matrix["columns"]] == ["c1", "c2"] and matrix["clusters"] == 3
    rows = {r["application"]: r["cells"] for r in matrix["rows"]}
    assert rows["api"] == [None, None]
    assert [c["health"] for c in rows["guestbook"]] == ["Healthy", "Degraded"]
    before = matrix["version"]
    assert api.http.get("/api/v1/fleet?cluster_limit=2").json()["version"] == before
    record(api.store, "guestbook", "c1", NEW, Health.HEALTHY, "d" * 64)
    assert api.http.get("/api/v1/fleet?cluster_limit=2").json()["version"] != before


def test_docs_work_offline_from_local_assets(api: RunningApi) -> None:
    page = api.http.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert api.http.get(source).status_code == 200, source
    assert api.http.get("/redoc").status_code == 404
    assert api.http.get("/openapi.json").json()["paths"]["/api/v1/applications/{name}/rollback"]


def test_the_web_view_is_served_at_the_root_with_local_assets_only(api: RunningApi) -> None:
    record(api.store, "guestbook", "c1", OLD, Health.DEGRADED, "d" * 64)
    page = api.http.get("/")
    assert page.status_code == 200 and 'id="matrix"' in page.text
    assert 'data-health="Degraded"' in page.text and OLD in page.text
    sources = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert len(sources) >= 2
    for source in sources:
        assert api.http.get(source).status_code == 200
    assert "http://" not in page.text.split("<body>")[0] and "https://" not in page.text
    missing = api.http.get("/applications/nope")
    assert missing.status_code == 404 and "nope: no such application" in missing.text
    unchanged = api.http.get("/ui/fleet", params={"since": _version(api)})
    assert unchanged.status_code == 204


def _version(api: RunningApi) -> str:
    answer: httpx.Response = api.http.get("/ui/fleet")
    return answer.headers["X-Fleetsync-Version"]


def test_pages_follow_the_read_policy_and_load_with_the_token(start_api: StartApi) -> None:
    api = start_api(access=AccessPolicy(token=TOKEN, read_token_required=True))
    record(api.store, "guestbook", "c1", OLD, Health.HEALTHY, "d" * 64)
    shell = api.http.get("/")
    assert shell.status_code == 200 and 'data-locked="1"' in shell.text
    assert 'id="matrix"' not in shell.text and OLD not in shell.text
    assert api.http.get("/ui/fleet").status_code == 401
    assert api.http.get("/ui/applications/guestbook").status_code == 401
    loaded = api.http.get("/ui/fleet", headers=bearer())
    assert loaded.status_code == 200 and 'id="matrix"' in loaded.text


def test_history_at_a_revision_takes_a_unique_prefix_and_says_when_it_is_ambiguous(
    api: RunningApi,
) -> None:
    twin = "main@sha1:" + "a1" * 2 + "f" * 36  # shares OLD's first 4 hex digits
    for cluster, revision in (("c1", OLD), ("c2", NEW), ("c2", twin)):
        record(api.store, "guestbook", cluster, revision, Health.HEALTHY, "d" * 64)
    base = "/api/v1/applications/guestbook"
    at_old = api.http.get(f"{base}/history?revision=a1a1a1").json()
    assert [(h["cluster"], h["revision"]) for h in at_old] == [("c1", OLD)]
    pair = api.http.get(f"{base}/clusters/c2/history?revision=b2b2").json()
    assert [h["revision"] for h in pair] == [NEW]
    ambiguous = api.http.get(f"{base}/history?revision=a1a1")
    assert ambiguous.status_code == 400
    assert ambiguous.json()["detail"] == (
        f"revision 'a1a1' is ambiguous: it names {OLD}, {twin}; give more of the sha"
    )
    missing = api.http.get(f"{base}/history?revision=ffff")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "guestbook: revision 'ffff' is not in its history"
    bad = api.http.get(f"{base}/history?revision=a1")
    assert bad.status_code == 400 and "a prefix of at least 4 hex digits" in bad.json()["detail"]
