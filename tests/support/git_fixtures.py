"""pytest fixtures for real git servers: one server per session, fresh repositories per test.

Registered in tests/conftest.py with `pytest_plugins = ["tests.support.git_fixtures"]`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator

import pytest

from fleetsync.shared.model.declaration import Credentials
from tests.support.git_server import GitServer, WorkRepo

USERNAME_ENV = "FLEETSYNC_TEST_GIT_USERNAME"
PASSWORD_ENV = "FLEETSYNC_TEST_GIT_PASSWORD"


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    """git daemon and smart HTTP (Basic auth for private repositories) for the whole session."""
    with GitServer(tmp_path_factory.mktemp("git")) as server:
        yield server


@pytest.fixture
def make_git_repo(git_server: GitServer, request: pytest.FixtureRequest) -> Callable[..., WorkRepo]:
    """`make_git_repo(private=False)`: a new served repository named after the test."""
    node = request.node.nodeid
    digest = hashlib.sha1(node.encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:50] + "-" + digest
    counter = itertools.count(1)

    def make(*, private: bool = False) -> WorkRepo:
        return git_server.create_repo(f"{stem}-{next(counter)}", private=private)

    return make


@pytest.fixture
def git_repo(make_git_repo: Callable[..., WorkRepo]) -> WorkRepo:
    """A new public served repository, empty: write, commit, then point fleetsync at it."""
    return make_git_repo()


@pytest.fixture
def git_credentials(git_server: GitServer, monkeypatch: pytest.MonkeyPatch) -> Credentials:
    """Credentials for the server's private repositories, by environment variable names."""
    monkeypatch.setenv(USERNAME_ENV, git_server.username)
    monkeypatch.setenv(PASSWORD_ENV, git_server.password)
    return Credentials(username_env=USERNAME_ENV, password_env=PASSWORD_ENV)
