"""Charts from a chart repository (index.yaml over HTTP and HTTPS), polled like a Git ref:
resolved by version range, fetched once into the chart cache, verified by digest, rendered once
per distinct input; and every way a chart repository goes wrong, named with its URL."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import Credentials
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_app, chart_repository, fleet_of
from tests.support.charts import ChartRepoServer, Tls, package_chart, serving_charts, sha256


@pytest.fixture
def sources(redis_url: str, cache: Path) -> Sources:
    return Sources(Store.connect(redis_url), cache)


def _publish(repo: ChartRepoServer, version: str, **files: str) -> bytes:
    archive = package_chart("web", version, files or None)
    repo.add(archive, name="web", version=version)
    return archive


def test_a_range_resolves_to_the_newest_matching_version_which_is_the_revision(
    sources: Sources, chart_repo: ChartRepoServer, cache: Path
) -> None:
    _publish(chart_repo, "1.0.0")
    newest = _publish(chart_repo, "1.4.2")
    _publish(chart_repo, "2.0.0")
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(repo, chart_app("web", repo, "web", "^1", values={"color": "green"}))

    polled, fetched = sources.sync(fleet, "charts")

    assert polled.error is None and fetched is not None and fetched.rendered == ("web",)
    desired = sources.store.desired(AppName("web"))
    assert desired is not None
    assert desired.revision.short == "web@1.4.2"
    assert str(desired.revision) == f"web@1.4.2@sha256:{sha256(newest)}"
    assert sources.rendered("web") == {"color": "green", "chart": "1.4.2"}
    cached = cache / "charts" / "sha256" / sha256(newest)[:2] / f"{sha256(newest)}.tgz"
    assert cached.read_bytes() == newest
    assert sources.store.repo_state("charts").revision == "web@1.4.2@sha256:" + sha256(newest)  # type: ignore[arg-type]


def test_an_unchanged_index_costs_a_304_and_nothing_else(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(repo, chart_app("web", repo, "web", "1.x"))
    sources.sync(fleet, "charts")
    downloads = chart_repo.requests["/web-1.0.0.tgz"]
    # The poll keeps the index (and its ETag) in the chart directory it was given.
    assert [p.suffix for p in (sources.cache / "charts" / "index").iterdir()] == [".json"]

    polled, fetched = sources.sync(fleet, "charts")

    assert chart_repo.requests["304"] == 1
    assert not polled.fetch_needed and fetched is None
    assert chart_repo.requests["/web-1.0.0.tgz"] == downloads == 1


def test_a_new_matching_version_is_a_new_revision_and_a_new_render(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(repo, chart_app("web", repo, "web", ">=1.0 <2"))
    sources.sync(fleet, "charts")

    _publish(chart_repo, "1.1.0")
    _publish(chart_repo, "2.0.0")
    polled, fetched = sources.sync(fleet, "charts")

    assert polled.fetch_needed and fetched is not None
    assert dict(fetched.changed) == {"web": ()}
    assert sources.rendered("web")["chart"] == "1.1.0"


def test_a_chart_seen_before_with_the_same_values_is_never_rendered_again(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(
        repo,
        chart_app("a", repo, "web", "1.0.0", values={"color": "red"}),
        chart_app("b", repo, "web", "1.0.0", values={"color": "red"}),
    )
    sources.sync(fleet, "charts")
    renders = sources.store.stats().get("render", 0)

    fetched = sources.fetch(fleet, "charts", force=True)

    assert fetched.reused == ("a", "b") and fetched.rendered == ()
    assert sources.store.stats().get("render", 0) == renders


def test_https_with_a_ca_file_and_basic_credentials(
    sources: Sources, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHART_USER", "reader")
    monkeypatch.setenv("CHART_PASSWORD", "s3cret-chart-pass")
    with serving_charts(tls=tls, basic=("reader", "s3cret-chart-pass")) as served:
        _publish(served, "3.1.0")
        repo = chart_repository(
            served.url,
            credentials=Credentials(username_env="CHART_USER", password_env="CHART_PASSWORD"),
            ca_file=tls.ca,
        )
        fleet = fleet_of(repo, chart_app("web", repo, "web", "~3.1"))
        polled, fetched = sources.sync(fleet, "charts")
    assert polled.error is None and fetched is not None and fetched.failed == {}
    assert sources.rendered("web")["chart"] == "3.1.0"


def test_a_bearer_token_is_sent_as_one(
    sources: Sources, chart_repo: ChartRepoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart_repo.token = "token-abc-123"
    monkeypatch.setenv("CHART_TOKEN", "token-abc-123")
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url, credentials=Credentials(token_env="CHART_TOKEN"))
    polled, fetched = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert polled.error is None and fetched is not None and fetched.rendered == ("web",)


# --- bad input: each named, nothing else lost ---------------------------------------------------


def test_an_untrusted_certificate_says_to_set_ca_file(sources: Sources, tls: Tls) -> None:
    with serving_charts(tls=tls) as served:
        _publish(served, "1.0.0")
        repo = chart_repository(served.url)
        polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1")), "charts")
    assert polled.error is not None
    assert f"cannot reach {served.url}/index.yaml" in polled.error
    assert "not trusted" in polled.error and "set caFile" in polled.error


def test_wrong_credentials_are_a_401_naming_the_url_and_variables_never_the_secret(
    sources: Sources, chart_repo: ChartRepoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart_repo.basic = ("reader", "right-password")
    monkeypatch.setenv("CHART_USER", "reader")
    monkeypatch.setenv("CHART_PASSWORD", "wrong-password-42")
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(
        chart_repo.url,
        credentials=Credentials(username_env="CHART_USER", password_env="CHART_PASSWORD"),
    )
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1")), "charts")
    assert polled.error == (
        f"charts: index.yaml at {chart_repo.url}/index.yaml: 401 Unauthorized; check the "
        "credentials (CHART_USER, CHART_PASSWORD in the fetch worker's environment)"
    )
    assert "wrong-password-42" not in (sources.error("web") or "")
    assert sources.error("web") == polled.error


def test_a_repository_that_is_down_is_an_error_and_the_last_good_state_stays(
    sources: Sources,
) -> None:
    with serving_charts() as served:
        _publish(served, "1.0.0")
        repo = chart_repository(served.url)
        fleet = fleet_of(repo, chart_app("web", repo, "web", "1"))
        sources.sync(fleet, "charts")
        before = sources.store.desired(AppName("web"))
    polled, _ = sources.sync(fleet, "charts")
    assert polled.error is not None and f"cannot reach {served.url}/index.yaml" in polled.error
    assert sources.store.desired(AppName("web")) == before
    assert sources.store.repo_state("charts").failures == 1  # type: ignore[arg-type]


def test_a_chart_archive_that_cannot_be_downloaded_waits_and_is_fetched_again_at_the_next_poll(
    sources: Sources,
) -> None:
    with serving_charts() as served:
        _publish(served, "1.0.0")
        repo = chart_repository(served.url)
        fleet = fleet_of(repo, chart_app("web", repo, "web", "1"))
        polled = sources.poll(fleet, "charts")
        assert polled.error is None and polled.fetch_needed
    fetched = sources.fetch(fleet, "charts")  # the repository went away after its poll
    message = fetched.failed["web"]
    assert message == f"charts: cannot reach {served.url}/web-1.0.0.tgz: Connection refused"
    assert sources.error("web") == message
    recorded = sources.store.source_error(AppName("web"))
    assert recorded is not None and recorded.revision == str(polled.revision)
    assert fetched.revision == polled.revision
    state = sources.store.repo_state("charts")
    assert state.fetched_sha != state.sha, "not fetched: the next poll fetches it again"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"answers": {"/index.yaml": 404}}, "index.yaml at {url}/index.yaml: 404 Not Found"),
        (
            {"replaced": {"/index.yaml": b"entries: [unclosed\n"}},
            "index.yaml at {url}/index.yaml is not valid YAML at line 2",
        ),
        (
            {"replaced": {"/index.yaml": b"<html>a web page</html>\n"}},
            "index.yaml at {url}/index.yaml is malformed: it has no 'entries' mapping",
        ),
    ],
)
def test_a_broken_index_is_named_by_its_url(
    sources: Sources,
    chart_repo: ChartRepoServer,
    fault: dict[str, dict[str, object]],
    expected: str,
) -> None:
    _publish(chart_repo, "1.0.0")
    for attribute, value in fault.items():
        getattr(chart_repo, attribute).update(value)
    repo = chart_repository(chart_repo.url)
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1")), "charts")
    assert polled.error is not None and expected.format(url=chart_repo.url) in polled.error


def test_a_range_that_matches_nothing_lists_the_versions_there_and_others_carry_on(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    for version in ("1.0.0", "1.2.0", "2.0.0-rc.1"):
        _publish(chart_repo, version)
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(
        repo,
        chart_app("web", repo, "web", ">=3.0 <4"),
        chart_app("ok", repo, "web", "1.0.0"),
        chart_app("gone", repo, "nosuch", "1.0.0"),
    )
    polled, fetched = sources.sync(fleet, "charts")
    assert polled.error is None and fetched is not None and fetched.rendered == ("ok",)
    assert sources.error("web") == (
        f"charts: chart web: no version matches '>=3.0 <4' at {chart_repo.url}/index.yaml; "
        "versions there: 2.0.0-rc.1, 1.2.0, 1.0.0"
    )
    assert sources.error("gone") == (
        f"charts: chart nosuch: no such chart in {chart_repo.url}/index.yaml; charts there: web"
    )
    assert sources.store.source_error(AppName("web")).stage == "repository"  # type: ignore[union-attr]


def test_an_application_whose_range_is_mended_to_a_chart_already_rendered_is_rendered(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    # The repository's revision stays the one chart's, but what it resolved moved: fetch again.
    _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url)
    ok = chart_app("ok", repo, "web", "1.0.0")
    polled, _ = sources.sync(fleet_of(repo, ok, chart_app("web", repo, "web", "2.x")), "charts")
    mended = fleet_of(repo, ok, chart_app("web", repo, "web", "1.x"))
    again, fetched = sources.sync(mended, "charts")
    assert again.revision == polled.revision and again.fetch_needed
    assert fetched is not None and "web" in fetched.changed and sources.error("web") is None


def test_a_chart_whose_digest_does_not_match_is_refused_naming_its_url(
    sources: Sources, chart_repo: ChartRepoServer, cache: Path
) -> None:
    good = _publish(chart_repo, "1.0.0")
    repo = chart_repository(chart_repo.url)
    fleet = fleet_of(repo, chart_app("web", repo, "web", "1.0.0"))
    chart_repo.replaced["/web-1.0.0.tgz"] = package_chart("web", "1.0.0", {"values.yaml": "x: 1"})
    _, fetched = sources.sync(fleet, "charts")
    assert fetched is not None
    message = fetched.failed["web"]
    assert f"chart web 1.0.0 from {chart_repo.url}/web-1.0.0.tgz has digest sha256:" in message
    assert f"but its source gives sha256:{sha256(good)}: refused" in message
    assert not list((cache / "charts" / "sha256").rglob("*.tgz"))
    assert sources.store.desired(AppName("web")) is None


def test_a_huge_chart_archive_is_refused(sources: Sources, chart_repo: ChartRepoServer) -> None:
    noise = random.Random(7).randbytes(33 * 1024 * 1024)
    huge = package_chart("web", "1.0.0", {"files/noise.bin": noise})
    chart_repo.add(huge, name="web", version="1.0.0")
    repo = chart_repository(chart_repo.url)
    _, fetched = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert fetched is not None
    assert fetched.failed["web"] == (
        f"charts: chart web at {chart_repo.url}/web-1.0.0.tgz is larger than 32 MiB; refused"
    )


def test_a_small_archive_that_unpacks_without_end_is_refused(
    sources: Sources, chart_repo: ChartRepoServer
) -> None:
    bomb = package_chart("web", "1.0.0", {"files/zeros.bin": bytes(70 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    chart_repo.add(bomb, name="web", version="1.0.0")
    repo = chart_repository(chart_repo.url)
    _, fetched = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert fetched is not None
    assert fetched.failed["web"] == "charts: chart web 1.0.0: unpacks to more than 64 MiB; refused"


def test_a_chart_archive_with_paths_escaping_its_directory_is_refused(
    sources: Sources, chart_repo: ChartRepoServer, cache: Path
) -> None:
    evil = package_chart("web", "1.0.0", {"../../../escaped.yaml": "kind: ConfigMap\n"})
    chart_repo.add(evil, name="web", version="1.0.0")
    repo = chart_repository(chart_repo.url)
    _, fetched = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert fetched is not None
    assert "entry 'web/../../../escaped.yaml' leaves its directory" in fetched.failed["web"]
    assert "charts: chart web 1.0.0" in fetched.failed["web"]
    assert not list(cache.rglob("escaped.yaml"))
