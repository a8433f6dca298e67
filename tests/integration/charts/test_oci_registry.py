"""Charts from an OCI registry (the CNCF distribution registry, behind HTTP Basic auth): a tag
list is the poll, the chosen tag's manifest gives the chart layer's digest, the layer is the
archive; and a registry's failures, named with the chart's oci:// reference."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import Credentials, RepoType
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_app, chart_repository, fleet_of
from tests.support.charts import package_chart, sha256
from tests.support.oci_registry import Registry
from tests.support.redis_server import free_port

CREDENTIALS = Credentials(username_env="REG_USER", password_env="REG_PASSWORD")


@pytest.fixture
def sources(redis_url: str, cache: Path, registry_env: None) -> Sources:
    return Sources(Store.connect(redis_url), cache)


@pytest.fixture
def path() -> str:
    """A registry path of the test's own."""
    return f"t{uuid.uuid4().hex[:10]}"


def _push(registry: Registry, path: str, version: str) -> bytes:
    archive = package_chart("web", version)
    registry.push_chart(path, archive, name="web", version=version)
    return archive


def test_a_range_picks_the_newest_tag_and_the_layer_digest_is_the_revision(
    sources: Sources, registry: Registry, path: str
) -> None:
    for version in ("6.6.0", "6.7.0", "7.0.0"):
        _push(registry, path, version)
    newest = _push(registry, path, "6.7.1")
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    fleet = fleet_of(repo, chart_app("web", repo, "web", "^6.7", values={"color": "teal"}))

    polled, fetched = sources.sync(fleet, "charts")

    assert polled.error is None and fetched is not None and fetched.rendered == ("web",)
    desired = sources.store.desired(AppName("web"))
    assert desired is not None
    assert str(desired.revision) == f"web@6.7.1@sha256:{sha256(newest)}"
    assert sources.rendered("web") == {"color": "teal", "chart": "6.7.1"}


def test_a_new_tag_is_a_new_revision_and_an_unchanged_tag_list_fetches_nothing(
    sources: Sources, registry: Registry, path: str
) -> None:
    _push(registry, path, "1.0.0")
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    fleet = fleet_of(repo, chart_app("web", repo, "web", "1.x"))
    sources.sync(fleet, "charts")
    again, fetched = sources.sync(fleet, "charts")
    assert not again.fetch_needed and fetched is None

    _push(registry, path, "1.1.0")
    polled, fetched = sources.sync(fleet, "charts")

    assert polled.fetch_needed and fetched is not None and fetched.rendered == ("web",)
    assert sources.rendered("web")["chart"] == "1.1.0"


def test_build_metadata_is_written_as_an_underscore_in_the_tag(
    sources: Sources, registry: Registry, path: str
) -> None:
    _push(registry, path, "2.0.0+build.7")
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    sources.sync(fleet_of(repo, chart_app("web", repo, "web", "2.0.0")), "charts")
    desired = sources.store.desired(AppName("web"))
    assert desired is not None and desired.revision.short == "web@2.0.0+build.7"


def test_a_tag_that_does_not_exist_is_named_with_the_tags_there(
    sources: Sources, registry: Registry, path: str
) -> None:
    _push(registry, path, "1.0.0")
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    polled, fetched = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "9.9.9")), "charts")
    assert polled.error is None and fetched is not None and fetched.rendered == ()
    assert sources.error("web") == (
        f"charts: chart web: tag 9.9.9 does not exist at oci://{registry.host}/{path}/web; "
        "versions there: 1.0.0"
    )


def test_a_chart_the_registry_does_not_have_is_named(
    sources: Sources, registry: Registry, path: str
) -> None:
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    sources.sync(fleet_of(repo, chart_app("web", repo, "nothing", "1.0.0")), "charts")
    assert sources.error("web") == (
        f"charts: chart nothing: no such repository in the registry "
        f"(oci://{registry.host}/{path}/nothing has no tags)"
    )


def test_a_registry_without_credentials_answers_401_named(
    sources: Sources, registry: Registry, path: str
) -> None:
    _push(registry, path, "1.0.0")
    repo = chart_repository(registry.oci_url(path), kind=RepoType.OCI, insecure=True)
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert polled.error == (
        f"charts: tag list at http://{registry.host}/v2/{path}/web/tags/list?n=1000: 401 "
        "Unauthorized; the server wants credentials: add credentials to the repository"
    )


def test_plain_http_only_when_the_repository_says_insecure(
    sources: Sources, registry: Registry, path: str
) -> None:
    _push(registry, path, "1.0.0")
    repo = chart_repository(registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS)
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert polled.error is not None
    assert f"cannot reach https://{registry.host}/v2/{path}/web/tags/list" in polled.error


def test_a_registry_that_is_down_is_an_error_naming_it(sources: Sources) -> None:
    repo = chart_repository(
        f"oci://127.0.0.1:{free_port()}/charts", kind=RepoType.OCI, insecure=True
    )
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert polled.error is not None and "cannot reach http://127.0.0.1:" in polled.error
    assert "Connection refused" in polled.error
