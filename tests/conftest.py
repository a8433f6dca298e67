"""Fixtures every test layer shares: a real redis-server per session, a clean database per test.

The session also gets a home of its own for what fleetsync keeps per user (the embedded Redis's
data, the cache, the local instance's state file): a test never reads or locks the user's
files, nor those of another test session running on the same machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import running_redis

_HOME_VARIABLES = ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")
_session_home: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    home = tempfile.mkdtemp(prefix="fleetsync-test-home-")
    _session_home.append(home)
    for name in _HOME_VARIABLES:
        path = Path(home) / name.lower()
        path.mkdir(mode=0o700)
        os.environ[name] = str(path)


# Tests that start whole systems of processes run one after another within their group, on one
# pytest-xdist worker (CI runs `-n 2 --dist loadgroup`), so that no two of them share the
# machine's cores with each other: `fleetsync up` and the fault suite in one group, the
# benchmark harness and the browser's fleet in another; the rest of the suite fills in beside.
_PROCESS_GROUPS = {
    "e2e": "processes",
    "faults": "processes",
    "bench": "harness",
    "browser": "harness",
}


def pytest_itemcollected(item: pytest.Item) -> None:
    # At collection, before pytest-xdist turns the group into the test's scheduling scope.
    tests = Path(__file__).parent
    parts = item.path.relative_to(tests).parts if item.path.is_relative_to(tests) else ()
    if parts and parts[0] in _PROCESS_GROUPS:
        item.add_marker(pytest.mark.xdist_group(_PROCESS_GROUPS[parts[0]]))


def pytest_unconfigure(config: pytest.Config) -> None:
    for home in _session_home:
        shutil.rmtree(home, ignore_errors=True)


pytest_plugins = ["tests.support.git_fixtures", "tests.support.realk8s_fixtures"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's redis-server, emptied before each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    yield redis_server


@pytest.fixture
def fleetsync_cache(tmp_path: Path) -> Path:
    path = tmp_path / "cache"
    path.mkdir()
    return path
