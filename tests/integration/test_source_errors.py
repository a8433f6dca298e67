"""Bad sources become clear errors in the application's status, back off, and lose nothing:
the last good desired state stays, other repositories carry on."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import (
    Application,
    Credentials,
    Fleet,
    Repository,
)
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.source import fetch_repository, poll_repository
from fleetsync.shared.store import DueSet, Store
from tests.support.git_server import GitServer, WorkRepo
from tests.support.redis_server import free_port

CONFIGMAP = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {value: "1"}
    """)


def _fleet(
    url: str, *, ref: str = "main", path: str = "apps/web", credentials: Credentials | None = None
) -> Fleet:
    repo = Repository(
        name=RepoName("platform"), url=url, ref=ref, interval=10.0, credentials=credentials
    )
    app = Application(name=AppName("web"), repository=repo.name, path=path, namespace="web")
    return Fleet(repositories={repo.name: repo}, applications={app.name: app})


def _run(store: Store, fleet: Fleet, tmp_path: Path) -> str | None:
    outcome = poll_repository(store, fleet, RepoName("platform"))
    if outcome.error:
        return outcome.error
    fetched = fetch_repository(
        store,
        fleet,
        RepoName("platform"),
        mirror_dir=tmp_path / "mirrors",
        scratch_dir=tmp_path / "s",
    )
    return fetched.error or fetched.failed.get(AppName("web"))


@pytest.fixture
def served(git_repo: WorkRepo) -> WorkRepo:
    git_repo.write("apps/web/settings.yaml", CONFIGMAP)
    git_repo.commit("web")
    return git_repo


def _url(server: GitServer, repo: WorkRepo) -> str:
    return server.git_url(repo.bare.name.removesuffix(".git"))


def test_an_unreachable_repository_is_recorded_and_backs_off(
    redis_url: str, tmp_path: Path
) -> None:
    store = Store.connect(redis_url)
    fleet = _fleet(f"git://127.0.0.1:{free_port()}/platform.git")
    store.plan_due(DueSet.POLL, {"platform": 10.0})
    error = _run(store, fleet, tmp_path)
    assert error is not None and error.startswith("platform")
    status = store.source_error(AppName("web"))
    assert status is not None and status.stage == "repository" and status.message == error
    due = store.due_at(DueSet.POLL, "platform")
    assert due is not None and due > store.now() + 5
    assert store.repo_state(RepoName("platform")).failures == 1
    assert store.stats().get("repo_error_transient") == 1


def test_a_repository_that_answers_again_clears_its_applications_repository_error(
    redis_url: str, tmp_path: Path, git_server: GitServer, served: WorkRepo
) -> None:
    store = Store.connect(redis_url)
    assert _run(store, _fleet(f"git://127.0.0.1:{free_port()}/platform.git"), tmp_path)
    assert store.source_error(AppName("web")) is not None
    polled = poll_repository(store, _fleet(_url(git_server, served)), RepoName("platform"))
    assert polled.error is None
    assert store.source_error(AppName("web")) is None, "cleared by the poll, before any render"


def test_each_failure_in_a_row_doubles_the_wait_before_the_next_poll(
    redis_url: str, tmp_path: Path
) -> None:
    store = Store.connect(redis_url)
    fleet = _fleet(f"git://127.0.0.1:{free_port()}/platform.git")  # interval 10s
    store.plan_due(DueSet.POLL, {"platform": 10.0})
    waits = []
    for _ in range(3):
        before = store.now()
        assert poll_repository(store, fleet, RepoName("platform")).error is not None
        due = store.due_at(DueSet.POLL, "platform")
        assert due is not None
        waits.append(due - before)
    # 10s, 20s, 40s, each ±20%: every wait is longer than the one before could be.
    assert 8 <= waits[0] <= 12.5 and 16 <= waits[1] <= 24.5 and 32 <= waits[2] <= 48.5, waits


def test_a_fetch_that_fails_after_its_poll_names_the_revision_it_was_fetching(
    redis_url: str, tmp_path: Path, git_server: GitServer, served: WorkRepo
) -> None:
    store = Store.connect(redis_url)
    fleet = _fleet(_url(git_server, served))
    polled = poll_repository(store, fleet, RepoName("platform"))
    assert polled.error is None and polled.revision is not None
    moved = served.bare.rename(served.bare.with_name("moved.git"))  # gone from the server
    try:
        fetched = fetch_repository(
            store, fleet, RepoName("platform"), mirror_dir=tmp_path / "m", scratch_dir=tmp_path
        )
    finally:
        moved.rename(served.bare)
    url = _url(git_server, served)
    assert fetched.error == (
        f"platform: repository {url} not found (or not visible with these credentials); check "
        "the url in fleet.yaml (git: fatal: remote error: access denied or repository not "
        f"exported: /{served.bare.name})"
    )
    assert fetched.revision == polled.revision


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown ref", "no-such-branch"),
        ("missing path", "apps/nowhere' does not exist"),
        ("wrong password", "GIT_TEST_PASSWORD"),
    ],
)
def test_a_bad_source_names_the_problem_in_the_application_status(
    case: str,
    expected: str,
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    make_git_repo: Callable[..., WorkRepo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store.connect(redis_url)
    repo = make_git_repo(private=case == "wrong password")
    repo.write("apps/web/settings.yaml", CONFIGMAP)
    repo.commit("web")
    name = repo.bare.name.removesuffix(".git")
    if case == "unknown ref":
        fleet = _fleet(git_server.git_url(name), ref="no-such-branch")
    elif case == "missing path":
        fleet = _fleet(git_server.git_url(name), path="apps/nowhere")
    else:
        monkeypatch.setenv("GIT_TEST_USER", git_server.username)
        monkeypatch.setenv("GIT_TEST_PASSWORD", "not-the-password")
        fleet = _fleet(
            git_server.http_url(name),
            credentials=Credentials(username_env="GIT_TEST_USER", password_env="GIT_TEST_PASSWORD"),
        )
    error = _run(store, fleet, tmp_path)
    assert error is not None and expected in error, error
    assert "not-the-password" not in error
    status = store.source_error(AppName("web"))
    assert status is not None and expected in status.message
    assert store.desired(AppName("web")) is None


def test_a_broken_commit_keeps_the_last_good_desired_state(
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    served: WorkRepo,
) -> None:
    store = Store.connect(redis_url)
    fleet = _fleet(_url(git_server, served))
    assert _run(store, fleet, tmp_path) is None
    good = store.desired(AppName("web"))
    assert good is not None
    served.write("apps/web/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    served.commit("break it")
    error = _run(store, fleet, tmp_path)
    assert error is not None and "metadata.name" in error
    assert store.desired(AppName("web")) == good
    served.write("apps/web/settings.yaml", CONFIGMAP.replace('"1"', '"2"'))
    served.commit("fix it")
    assert _run(store, fleet, tmp_path) is None
    assert store.source_error(AppName("web")) is None
    fixed = store.desired(AppName("web"))
    assert fixed is not None and fixed.digest != good.digest


def test_a_repository_error_names_the_revision_it_last_saw_else_its_ref(
    redis_url: str, tmp_path: Path, git_server: GitServer, served: WorkRepo
) -> None:
    store = Store.connect(redis_url)
    unreachable = _fleet(f"git://127.0.0.1:{free_port()}/platform.git")
    assert _run(store, unreachable, tmp_path) is not None
    before = store.source_error(AppName("web"))
    assert before is not None and before.revision == "main", "never polled: the ref"
    reachable = _fleet(_url(git_server, served))
    assert _run(store, reachable, tmp_path) is None
    assert _run(store, unreachable, tmp_path) is not None
    after = store.source_error(AppName("web"))
    assert after is not None and after.revision == f"main@sha1:{served.head}"


def test_a_permanent_repository_error_is_counted_as_permanent(
    redis_url: str, tmp_path: Path, git_server: GitServer, served: WorkRepo
) -> None:
    store = Store.connect(redis_url)
    fleet = _fleet(_url(git_server, served), ref="no-such-branch")
    assert _run(store, fleet, tmp_path) is not None
    assert store.stats().get("repo_error_permanent") == 1
    assert "repo_error_transient" not in store.stats()
