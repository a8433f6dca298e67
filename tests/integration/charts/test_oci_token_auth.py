"""Charts from an OCI registry with token authentication, as Docker Hub, GHCR and Harbor do it:
the CNCF distribution registry answers 401 with `WWW-Authenticate: Bearer realm=...`, fleetsync
asks that realm (a real token server started by the test, signing real JWTs the registry
verifies) for a token with the credentials the repository names by environment variables, and
repeats the request with it. The credentials never appear in an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import Credentials, RepoType
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_app, chart_repository, fleet_of
from tests.support.charts import package_chart, sha256
from tests.support.oci_registry import Registry, running_registry
from tests.support.registry_tokens import TokenServer, running_token_server

ACCOUNT = ("robot", "token-server-password-7")
CREDENTIALS = Credentials(username_env="TOKEN_USER", password_env="TOKEN_PASSWORD")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    with running_token_server(tmp_path_factory.mktemp("tokens"), ACCOUNT) as served:
        yield served


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, tokens: TokenServer) -> Iterator[Registry]:
    directory = tmp_path_factory.mktemp("token-registry")
    with running_registry(directory, auth=ACCOUNT, tokens=tokens) as served:
        yield served


@pytest.fixture
def sources(redis_url: str, cache: Path) -> Sources:
    return Sources(Store.connect(redis_url), cache)


@pytest.fixture
def path() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def test_charts_are_pulled_with_a_token_from_the_registry_s_realm(
    sources: Sources,
    registry: Registry,
    tokens: TokenServer,
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN_USER", ACCOUNT[0])
    monkeypatch.setenv("TOKEN_PASSWORD", ACCOUNT[1])
    web = package_chart("web", "1.2.0")
    registry.push_chart(path, web, name="web", version="1.2.0")
    registry.push_chart(path, package_chart("api", "3.0.0"), name="api", version="3.0.0")
    issued = len(tokens.issued)
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    fleet = fleet_of(
        repo,
        chart_app("web", repo, "web", "^1.0", values={"color": "teal"}),
        chart_app("api", repo, "api", "3.0.0"),
    )

    polled, fetched = sources.sync(fleet, "charts")

    assert polled.error is None and fetched is not None, polled.error
    assert sorted(fetched.rendered) == ["api", "web"]
    desired = sources.store.desired(AppName("web"))
    assert desired is not None and str(desired.revision) == f"web@1.2.0@sha256:{sha256(web)}"
    assert sources.rendered("web") == {"color": "teal", "chart": "1.2.0"}
    # One token per registry repository, each for what it reads: the flow went through the realm.
    scopes = tokens.issued[issued:]
    assert f"repository:{path}/web:pull" in scopes and f"repository:{path}/api:pull" in scopes


def test_credentials_the_token_server_refuses_are_named_by_their_variables_only(
    sources: Sources,
    registry: Registry,
    tokens: TokenServer,
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN_USER", ACCOUNT[0])
    monkeypatch.setenv("TOKEN_PASSWORD", "wrong-password-42")
    registry.push_chart(path, package_chart("web", "1.0.0"), name="web", version="1.0.0")
    refused = tokens.refused
    repo = chart_repository(
        registry.oci_url(path), kind=RepoType.OCI, credentials=CREDENTIALS, insecure=True
    )
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")

    assert tokens.refused > refused
    assert polled.error is not None
    assert f"a registry token at {tokens.realm}?" in polled.error
    assert "401 Unauthorized; check the credentials (TOKEN_USER, TOKEN_PASSWORD" in polled.error
    assert "wrong-password-42" not in polled.error and ACCOUNT[0] not in polled.error
    error = sources.error("web")
    assert error is not None and "wrong-password-42" not in error


def test_a_repository_without_credentials_is_told_the_registry_wants_them(
    sources: Sources, registry: Registry, tokens: TokenServer, path: str
) -> None:
    registry.push_chart(path, package_chart("web", "1.0.0"), name="web", version="1.0.0")
    repo = chart_repository(registry.oci_url(path), kind=RepoType.OCI, insecure=True)
    polled, _ = sources.sync(fleet_of(repo, chart_app("web", repo, "web", "1.0.0")), "charts")
    assert polled.error is not None
    assert "401 Unauthorized; the server wants credentials" in polled.error
