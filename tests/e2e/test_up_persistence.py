"""`fleetsync up` keeps its state: the embedded Redis writes an append-only file in the data
directory, and the next `up` comes back with everything the last one knew."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Pin, Store
from tests.e2e.test_up import ready
from tests.support.processes import Proc
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

FLEET = """\
repositories:
  - {name: platform, url: "git://127.0.0.1:9/platform.git"}
clusters:
  - {name: c1, kubeconfig: /nonexistent/c1.yaml}
applications:
  - {name: web, repository: platform, path: apps/web, targets: {clusters: [c1]}}
"""
REVISION = Revision.parse("main@sha1:" + "a" * 40)


def start_up(tmp_path: Path, fleet_file: Path, data_dir: Path | None, port: int) -> Proc:
    argv = [sys.executable, "-m", "fleetsync", "up", "-c", str(fleet_file), "--no-flower"]
    argv += ["--api-port", str(port), "--fetch-concurrency", "1", "--apply-concurrency", "2"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "FLEETSYNC_CACHE_DIR": str(tmp_path / "cache"),
        "FLEETSYNC_TICK_SECONDS": "0.5",
    }
    env.pop("FLEETSYNC_REDIS_URL", None)
    return Proc(argv, env)


def redis_url_of(up: Proc) -> str:
    line = up.wait_line(r"fleetsync is up: Redis redis://", timeout=60)
    found = re.search(r"Redis (redis://\S+)", line)
    assert found is not None, line
    return found.group(1)


def test_rollback_pins_suspensions_history_and_status_survive_a_restart_of_up(
    tmp_path: Path,
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    data_dir = tmp_path / "data"
    port = free_port()
    first = start_up(tmp_path, fleet_file, data_dir, port)
    try:
        store = Store.connect(redis_url_of(first))
        assert f"(embedded, data in {data_dir / 'redis'})" in first.output()
        wait_for(lambda: ready(port), timeout=60, what="the API ready (fleet published)")
        store.set_suspended("web", True)
        store.set_pin("web", Pin(revision=REVISION, digest=Digest("d" * 64), at=store.now()))
        status = PairStatus(
            application="web",
            cluster="c1",
            sync=SyncState.SYNCED,
            health=Health.HEALTHY,
            revision=REVISION,
            at=store.now(),
        )
        store.record_status(status)
        second = start_up(tmp_path, fleet_file, data_dir, free_port())
        assert second.popen.wait(timeout=60) == 1
        assert "another fleetsync is using this data directory" in second.output()
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert (data_dir / "redis" / "appendonlydir").is_dir()

    again = start_up(tmp_path, fleet_file, data_dir, port)
    try:
        store = Store.connect(redis_url_of(again))
        assert store.is_suspended("web")
        pin = store.pin("web")
        assert pin is not None and pin.revision == REVISION
        assert store.history("web", "c1")[-1].revision == REVISION
        assert store.fleet_digest() is not None
        wait_for(lambda: ready(port), timeout=60, what="the API ready again")
    finally:
        again.stop(signal.SIGTERM)


def test_the_default_data_directory_is_under_the_user_s_data_home(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    up = start_up(tmp_path, fleet_file, None, free_port())
    try:
        redis_url_of(up)
        assert f"data in {tmp_path / 'xdg-data' / 'fleetsync' / 'redis'})" in up.output()
    finally:
        up.stop(signal.SIGTERM)
    assert (tmp_path / "xdg-data" / "fleetsync" / "redis" / "appendonlydir").is_dir()
