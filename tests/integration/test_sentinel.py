"""Redis Sentinel for the store and the broker: real redis-server and redis-sentinel processes,
one `sentinel://` URL, a failover (the master killed) that both follow by themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import make_celery
from fleetsync.shared.urls import display_url
from tests.support.sentinel import SentinelSet
from tests.support.waiting import wait_for


@pytest.fixture
def sentinels(tmp_path: Path) -> SentinelSet:
    with SentinelSet(tmp_path / "sentinel") as found:
        yield found  # type: ignore[misc]


def test_the_store_and_the_broker_follow_a_failover(sentinels: SentinelSet) -> None:
    store = Store.connect(sentinels.url)
    assert sentinels.password not in store.address
    assert store.address == display_url(sentinels.url)
    assert store.address.startswith("sentinel://127.0.0.1:")
    store.set_suspended("web", True)
    app = make_celery(Settings(redis_url=sentinels.url))
    app.send_task("fleetsync.poll.poll", kwargs={"repo": "a"}, queue="poll", priority=0)
    replica = next(n for n in sentinels.nodes if n is not sentinels.master())
    wait_for(
        lambda: Store.connect(replica.url).client.llen("poll") == 1,
        what="the message replicated",
    )

    sentinels.failover_by_killing_the_master()

    assert wait_for(lambda: _suspended(store), timeout=30, what="the store on the new master")
    assert store.client.connection_pool.get_master_address()[1] == replica.port  # type: ignore[attr-defined]
    app.send_task("fleetsync.poll.poll", kwargs={"repo": "b"}, queue="poll", priority=0)
    assert Store.connect(replica.url).client.llen("poll") == 2


def _suspended(store: Store) -> bool:
    try:
        return store.is_suspended("web")
    except Exception:
        return False
