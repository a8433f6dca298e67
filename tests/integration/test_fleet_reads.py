"""The beat reads fleet.yaml off its tick: while an edit is being read, the ticks go on polling
and checking for drift with the current declaration; the tick after the read publishes it at
once, and an edit that is refused leaves the last good declaration running, the error shown."""

from __future__ import annotations

import json
import multiprocessing
import os
import textwrap
import threading
from pathlib import Path

import pytest
import redis.exceptions

from fleetsync.scheduler.fleet_reads import FleetRead, FleetReads, read_here, read_in_child
from fleetsync.scheduler.tick import Ticker, pair_member
from fleetsync.shared.fleet import publish_form
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import DueSet, Store
from fleetsync.shared.tasking import Sender, make_celery

FLEET = textwrap.dedent("""\
    repositories:
      - {{name: platform, url: "git://127.0.0.1:9/platform.git", interval: 60s}}
    clusters:
      - {{name: c1, kubeconfig: /nonexistent/c1.yaml}}
    applications:
      - {{name: web, repository: platform, path: {path}, targets: {{clusters: [c1]}}}}
    """)

WAIT = 60.0
"""How long a test waits for an event before it fails (not a pause: each wait ends when the
event comes)."""


def write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


class HeldRead:
    """fleet.yaml's real read, which, once `hold` is called, waits for `release` before it
    hands its declaration over: a read that stays in progress as long as the test needs."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def hold(self) -> None:
        self.started.clear()
        self.release.clear()

    def __call__(self, path: Path) -> FleetRead:
        found = read_here(path)
        self.started.set()
        if not self.release.wait(WAIT):
            raise RuntimeError("the test never released the read")
        return found


def published(store: Store) -> Fleet:
    raw = store.client.get(store.key("fleet", "json"))
    assert raw is not None
    return Fleet.from_json(json.loads(raw))


def make_due_now(store: Store) -> None:
    store.client.zadd(store.key("due", DueSet.POLL), {"platform": 0}, xx=True)
    store.client.zadd(store.key("due", DueSet.DRIFT), {pair_member("web", "c1"): 0}, xx=True)


def background_ticker(
    redis_url: str, path: Path, read: HeldRead | None
) -> tuple[Store, Ticker, FleetReads]:
    """A ticker reading `path` in the background (`read`, else as the beat does: in a process
    of its own), its first read published."""
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    reads = FleetReads(path, background=True, read=read)
    ticker = Ticker(store, sender, path, reads=reads)
    first = ticker.tick()
    assert not first.reloaded, "the first read is in progress"
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded
    return store, ticker, reads


def test_ticks_go_on_polling_and_checking_drift_while_an_edit_is_being_read(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    write(path, FLEET.format(path="apps/web"))
    read = HeldRead()
    store, ticker, reads = background_ticker(redis_url, path, read)
    digest = store.fleet_digest()

    read.hold()
    write(path, FLEET.format(path="apps/moved"))
    assert not ticker.tick().reloaded
    assert read.started.wait(WAIT), "the edit's read began"
    make_due_now(store)
    during = ticker.tick()
    assert (during.polls, during.drift_checks) == (["platform"], [("web", "c1")])
    assert (during.reloaded, during.fleet_error) == (False, None)
    assert store.fleet_digest() == digest
    assert published(store).applications["web"].path == "apps/web"

    read.release.set()
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded
    fleet = published(store)
    assert fleet.applications["web"].path == "apps/moved"
    assert store.fleet_digest() == publish_form(fleet).digest != digest
    assert not ticker.tick().reloaded, "a read is handed over once"


def test_an_edit_refused_by_the_reading_process_keeps_the_last_good_declaration(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    write(path, FLEET.format(path="apps/web"))
    store, ticker, reads = background_ticker(redis_url, path, None)
    digest = store.fleet_digest()

    write(path, FLEET.format(path="apps/web") + "  - {name: api, repository: missing}\n")
    ticker.tick()
    assert reads.wait_idle(WAIT)
    make_due_now(store)
    refused = ticker.tick()
    assert refused.fleet_error is not None and "'missing'" in refused.fleet_error
    assert store.fleet_error() == refused.fleet_error
    assert (refused.polls, refused.drift_checks) == (["platform"], [("web", "c1")])
    assert store.fleet_digest() == digest
    assert set(published(store).applications) == {"web"}
    assert ticker.tick().fleet_error is None, "reported once, not at every tick"

    write(path, FLEET.format(path="apps/fixed"))
    ticker.tick()
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded
    assert store.fleet_error() is None
    assert published(store).applications["web"].path == "apps/fixed"


def test_a_file_edited_again_during_a_read_is_read_again(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    write(path, FLEET.format(path="apps/web"))
    read = HeldRead()
    store, ticker, reads = background_ticker(redis_url, path, read)

    read.hold()
    write(path, FLEET.format(path="apps/first"))
    ticker.tick()
    assert read.started.wait(WAIT)
    write(path, FLEET.format(path="apps/second"))
    read.release.set()
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded, "what the read found is published"
    assert published(store).applications["web"].path == "apps/first"
    assert not ticker.tick().reloaded, "the next tick sees the file changed since"
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded, "and the file, changed since, read again"
    assert published(store).applications["web"].path == "apps/second"


def test_a_reading_process_that_takes_too_long_is_ended_and_its_read_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fleet.yaml"
    write(path, FLEET.format(path="apps/web"))
    before = set(multiprocessing.active_children())
    read = read_in_child(path, timeout=0.001)  # a process cannot start and read in 1 ms
    assert read.published is None
    assert read.error == f"{path}: cannot read: the reading process took longer than 0.001s"
    assert set(multiprocessing.active_children()) == before, "the reading process is gone"
    found = read_in_child(path).published
    assert found is not None and found.fleet.applications["web"].path == "apps/web"


def test_an_edit_read_while_redis_refuses_writes_is_published_once_redis_takes_them(
    redis_url: str, tmp_path: Path
) -> None:
    """Redis refuses the tick's writes (a real refusal: it is told to want a replica it does
    not have) just as an edit's read is handed over: that read is not lost, the next tick
    reads the file again and publishes it."""
    path = tmp_path / "fleet.yaml"
    write(path, FLEET.format(path="apps/web"))
    store, ticker, reads = background_ticker(redis_url, path, None)

    write(path, FLEET.format(path="apps/moved"))
    ticker.tick()
    assert reads.wait_idle(WAIT)
    store.client.config_set("min-replicas-to-write", 1)
    try:
        with pytest.raises(redis.exceptions.ResponseError, match="NOREPLICAS"):
            ticker.tick()
    finally:
        store.client.config_set("min-replicas-to-write", 0)
    assert published(store).applications["web"].path == "apps/web"

    ticker.tick()
    assert reads.wait_idle(WAIT)
    assert ticker.tick().reloaded
    assert published(store).applications["web"].path == "apps/moved"
