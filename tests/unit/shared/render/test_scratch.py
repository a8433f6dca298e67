"""Scratch areas: gone when their work ends, however it ends; swept when their owner died, and
never while it lives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetsync.shared.render import scratch_area, sweep_scratch

HOLD_AN_AREA = """
    import sys, time
    from pathlib import Path
    from fleetsync.shared.render import scratch_area

    with scratch_area(Path(sys.argv[1]), prefix="render-") as area:
        (area / "tmp").mkdir()
        (area / "tmp" / "chart.yaml").write_text("staged")
        print(area, flush=True)
        time.sleep(600)
"""


def owner_holding_an_area(scratch: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process, holding an area with a file in it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_AN_AREA), str(scratch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_an_area_is_removed_when_its_work_ends_and_when_it_fails(tmp_path: Path) -> None:
    with scratch_area(tmp_path, prefix="checkout-") as area:
        (area / "file").write_text("x")
        assert area.parent == tmp_path and area.name.startswith("checkout-")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), scratch_area(tmp_path, prefix="checkout-") as area:
        (area / "file").write_text("x")
        raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []


def test_the_area_of_a_killed_owner_is_swept_and_a_live_one_is_kept(tmp_path: Path) -> None:
    killed, abandoned = owner_holding_an_area(tmp_path)
    alive, kept = owner_holding_an_area(tmp_path)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert (abandoned / "tmp" / "chart.yaml").exists()
        with scratch_area(tmp_path, prefix="mine-") as mine:
            assert sweep_scratch(tmp_path) == [abandoned]
            assert mine.is_dir()
        assert not abandoned.exists()
        assert kept.is_dir() and (kept / "tmp" / "chart.yaml").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name, f"{kept.name}.lock"]
    finally:
        alive.kill()
        alive.wait()
    assert sweep_scratch(tmp_path) == [kept]
    assert list(tmp_path.iterdir()) == []


def test_a_directory_without_an_owner_is_swept(tmp_path: Path) -> None:
    old = tmp_path / "0123456789ab-checkout"
    (old / "apps").mkdir(parents=True)
    assert sweep_scratch(tmp_path) == [old]
    assert list(tmp_path.iterdir()) == []
    assert sweep_scratch(tmp_path / "missing") == []
