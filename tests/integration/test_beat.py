"""The beat: the declaration it publishes, and only one active beat at a time."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from fleetsync.scheduler.beat import FleetScheduler
from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery

GOOD = textwrap.dedent("""\
    repositories:
      - {name: platform, url: "git://127.0.0.1:9/platform.git", interval: 60s}
    clusters:
      - {name: c1, kubeconfig: /nonexistent/c1.yaml}
    applications:
      - {name: web, repository: platform, path: apps/web, targets: {clusters: [c1]}}
    """)


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    # Make the edit visible to the ticker even within one mtime granule.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_a_broken_edit_keeps_the_last_good_declaration_and_reports_the_error(
    redis_url: str,
    tmp_path: Path,
) -> None:
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    fleet_file = tmp_path / "fleet.yaml"
    _write(fleet_file, GOOD)
    ticker = Ticker(store, sender, fleet_file)
    assert ticker.tick().reloaded
    digest = store.fleet_digest()

    _write(fleet_file, GOOD.replace("repository: platform", "repository: missing"))
    report = ticker.tick()
    assert report.fleet_error is not None and "missing" in report.fleet_error
    error = store.fleet_error()
    assert error is not None and "fleet.yaml:6" in error and "'missing'" in error
    assert store.fleet_digest() == digest
    fleet = store.load_fleet()
    assert fleet is not None and set(fleet.applications) == {"web"}
    again = ticker.tick()
    assert again.fleet_error is None, "reported when the file changes, not at every tick"
    assert store.fleet_error() == error, "and still shown until a good edit"

    _write(fleet_file, GOOD.replace("interval: 60s", "interval: 30s"))
    assert ticker.tick().reloaded
    assert store.fleet_error() is None
    assert store.fleet_digest() != digest


def test_a_beat_started_without_its_fleet_file_says_so_once(
    redis_url: str,
    tmp_path: Path,
) -> None:
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    fleet_file = tmp_path / "fleet.yaml"
    ticker = Ticker(store, sender, fleet_file)
    report = ticker.tick()
    assert report.fleet_error == f"{fleet_file}: cannot read: No such file or directory"
    assert store.fleet_error() == report.fleet_error
    assert ticker.tick().fleet_error is None, "reported when it changes, not every tick"
    _write(fleet_file, GOOD)
    assert ticker.tick().reloaded
    assert store.fleet_error() is None


def _scheduler(redis_url: str, fleet_file: Path) -> FleetScheduler:
    app = make_celery(Settings(redis_url=redis_url))
    FleetScheduler.fleetsync_settings = Settings(
        redis_url=redis_url, fleet_file=fleet_file, tick_seconds=1.0
    )
    return FleetScheduler(app=app, lazy=False)


def test_a_second_beat_stands_by_and_emits_nothing(
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    _write(fleet_file, GOOD)
    first = _scheduler(redis_url, fleet_file)
    second = _scheduler(redis_url, fleet_file)
    store = Store.connect(redis_url)
    first.tick()
    assert first._ticker.wait_for_read(60), "the beat reads fleet.yaml in the background"
    first.tick()
    second.tick()
    assert first._leading and not second._leading
    # The new repository is due within a few seconds; only the leader claims it.
    store.client.zadd(store.key("due", "poll"), {"platform": 0}, xx=True)
    before = store.queue_depths()["poll"]
    second.tick()
    assert store.queue_depths()["poll"] == before
    first.tick()
    assert store.queue_depths()["poll"] == before + 1


def test_a_beat_that_lost_redis_before_reading_its_file_publishes_the_declaration_it_loaded(
    redis_url: str,
    tmp_path: Path,
) -> None:
    # A beat started from the declaration Redis holds, then Redis's data lost before the beat
    # has read fleet.yaml itself: it publishes what it loaded again, as it was.
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    fleet_file = tmp_path / "fleet.yaml"
    _write(fleet_file, GOOD)
    assert Ticker(store, sender, fleet_file).tick().reloaded
    digest, declared = store.fleet_digest(), store.load_fleet()
    assert digest is not None and declared is not None
    restarted = Ticker(store, sender, None)
    restarted.tick()
    store.client.flushall()

    restarted.tick()

    assert store.fleet_digest() == digest
    assert store.load_fleet() == declared


def test_a_beat_that_finds_redis_s_data_lost_reconciles_the_pairs_of_what_was_rendered_since(
    redis_url: str,
    tmp_path: Path,
) -> None:
    # A fetch under way across the loss rendered `web` again and recorded its commit fetched;
    # a reconcile it queued that ran while the declaration was missing did nothing and took
    # its pair's coalescing mark: the republishing beat asks for web's pairs, a task per
    # cluster. `api`, not rendered since the loss, is left to the fetch that renders it.
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    fleet_file = tmp_path / "fleet.yaml"
    two_clusters = GOOD.replace(
        "  - {name: c1, kubeconfig: /nonexistent/c1.yaml}\n",
        "  - {name: c1, kubeconfig: /nonexistent/c1.yaml}\n"
        "  - {name: c2, kubeconfig: /nonexistent/c2.yaml}\n",
    ).replace("targets: {clusters: [c1]}}\n", "targets: {clusters: [c1, c2]}}\n")
    api = "  - {name: api, repository: platform, path: apps/api, targets: {clusters: [c2]}}\n"
    _write(fleet_file, two_clusters + api)
    ticker = Ticker(store, sender, fleet_file)
    assert ticker.tick().reloaded
    queued = store.key("queued", "apply", "fleetsync.apply.reconcile", "")
    store.client.flushall()
    # The fetch's write.
    bundle = store.put_bundle(Bundle.of([]))
    store.set_desired(
        AppName("web"), DesiredState(Revision("main", "1" * 40), bundle, "plain", 1.0)
    )

    ticker.tick()

    marks = {k.decode()[len(queued) :] for k in store.client.scan_iter(match=queued + "*")}
    assert marks == {"web:c1", "web:c2"}
    assert store.queue_depths()["apply"] == 2, "one task per cluster"
