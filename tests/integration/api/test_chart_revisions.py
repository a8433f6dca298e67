"""Chart revisions (`podinfo@6.7.1@sha256:<digest>`) in every reader: the API's revision
lookup by version or digest prefix, rollback to a chart version, the web view's short form."""

from __future__ import annotations

from dataclasses import replace

from fleetsync.shared.model.ids import AppName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health
from fleetsync.shared.store import DesiredState
from tests.integration.api.conftest import RunningApi, StartApi, bearer, example_fleet
from tests.integration.api.test_parity import bundle, record

OLD = Revision.chart("podinfo", "6.7.0", "0a" * 32)
NEW = Revision.chart("podinfo", "6.7.1", "1b" * 32)


def _history(api: RunningApi) -> None:
    old, new = bundle("old"), bundle("new")
    api.store.put_bundle(old)
    api.store.put_bundle(new)
    record(api.store, "guestbook", "c1", str(OLD), Health.HEALTHY, old.digest)
    record(api.store, "guestbook", "c1", str(NEW), Health.HEALTHY, new.digest)
    record(api.store, "guestbook", "c2", str(NEW), Health.DEGRADED, new.digest)
    api.store.set_desired(
        AppName("guestbook"),
        DesiredState(revision=NEW, digest=Digest(new.digest), renderer="helm", rendered_at=1.0),
    )


def test_a_chart_revision_is_found_by_its_version_its_full_form_or_a_digest_prefix(
    api: RunningApi,
) -> None:
    _history(api)
    by_version = api.http.get("/api/v1/revisions/podinfo@6.7.1")
    assert by_version.status_code == 200, by_version.text
    assert by_version.json()["revision"] == str(NEW)
    assert {p["cluster"] for p in by_version.json()["pairs"]} == {"c1", "c2"}
    assert api.http.get(f"/api/v1/revisions/{NEW}").json() == by_version.json()
    assert api.http.get("/api/v1/revisions/1b1b1b").json() == by_version.json()
    missing = api.http.get("/api/v1/revisions/podinfo@9.9.9")
    assert missing.status_code == 404 and "no pair runs this revision" in missing.json()["detail"]


def test_rollback_to_a_chart_version(api: RunningApi) -> None:
    _history(api)
    rolled = api.http.post(
        "/api/v1/applications/guestbook/rollback",
        headers=bearer(),
        json={"revision": "podinfo@6.7.0"},
    )
    assert rolled.status_code == 202, rolled.text
    pin = api.store.pin("guestbook")
    assert pin is not None and pin.revision == OLD and pin.digest == bundle("old").digest


def test_the_web_view_shows_a_chart_revision_as_name_at_version(api: RunningApi) -> None:
    _history(api)
    page = api.http.get("/applications/guestbook")
    assert page.status_code == 200
    assert ">podinfo@6.7.1</a>" in page.text
    assert f'href="/revisions/{NEW}"' in page.text
    revision_page = api.http.get(f"/revisions/{NEW}")
    assert revision_page.status_code == 200 and str(NEW) in revision_page.text


def test_a_rollback_of_an_application_with_per_cluster_variants_pins_each_cluster(
    start_api: StartApi,
) -> None:
    fleet = example_fleet()
    guestbook = fleet.applications[AppName("guestbook")]
    varied = replace(
        fleet,
        applications={**fleet.applications, guestbook.name: replace(guestbook, substitute=True)},
    )
    api = start_api(fleet=varied)
    _history(api)
    refused = api.http.post(
        "/api/v1/applications/guestbook/rollback",
        headers=bearer(),
        json={"revision": "podinfo@6.7.0"},
    )
    assert refused.status_code >= 400
    assert f"cluster(s) c2 never ran {OLD}" in refused.text
    assert "roll back to a revision every cluster ran" in refused.text
    assert api.store.pin("guestbook") is None

    rolled = api.http.post(
        "/api/v1/applications/guestbook/rollback",
        headers=bearer(),
        json={"revision": "podinfo@6.7.1"},
    )
    assert rolled.status_code == 202, rolled.text
    pin = api.store.pin("guestbook")
    assert pin is not None and pin.revision == NEW
    assert {c: v.digest for c, v in pin.clusters.items()} == {
        "c1": bundle("new").digest,
        "c2": bundle("new").digest,
    }
    detail = api.http.get("/api/v1/applications/guestbook").json()
    assert set(detail["pinned"]["clusters"]) == {"c1", "c2"}
