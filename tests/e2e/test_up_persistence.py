"""`fleetsync up` keeps its state: the embedded Redis writes an append-only file in the data
directory, and the next `up` comes back with everything the last one knew."""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Pin, Store
from tests.support.up import Up, start_up, up_env

FLEET = """\
repositories:
  - {name: platform, url: "git://127.0.0.1:9/platform.git"}
clusters:
  - {name: c1, kubeconfig: /nonexistent/c1.yaml}
applications:
  - {name: web, repository: platform, path: apps/web, targets: {clusters: [c1]}}
"""
REVISION = Revision.parse("main@sha1:" + "a" * 40)


def start(tmp_path: Path, fleet_file: Path, data_dir: Path | None) -> Up:
    return start_up(fleet_file, up_env(tmp_path), data_dir=data_dir)


def test_rollback_pins_suspensions_history_and_status_survive_a_restart_of_up(
    tmp_path: Path,
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    data_dir = tmp_path / "data"
    first = start(tmp_path, fleet_file, data_dir)
    try:
        store = Store.connect(first.redis_url())
        assert f"(embedded, data in {data_dir / 'redis'})" in first.output()
        first.wait_ready(timeout=60)
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
        second = start(tmp_path, fleet_file, data_dir)
        assert second.proc.popen.wait(timeout=60) == 1
        assert "another fleetsync is using this data directory" in second.output()
    finally:
        assert first.stop() == 0
    assert (data_dir / "redis" / "appendonlydir").is_dir()

    again = start(tmp_path, fleet_file, data_dir)
    try:
        store = Store.connect(again.redis_url())
        assert store.is_suspended("web")
        pin = store.pin("web")
        assert pin is not None and pin.revision == REVISION
        assert store.history("web", "c1")[-1].revision == REVISION
        assert store.fleet_digest() is not None
        again.wait_ready(timeout=60)
    finally:
        again.stop()


def test_the_default_data_directory_is_under_the_user_s_data_home(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET)
    with start(tmp_path, fleet_file, None) as up:
        up.redis_url()
        assert f"data in {tmp_path / 'xdg-data' / 'fleetsync' / 'redis'})" in up.output()
    assert (tmp_path / "xdg-data" / "fleetsync" / "redis" / "appendonlydir").is_dir()
