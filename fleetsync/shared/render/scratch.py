"""Scratch space for checkouts and renders: removed when its work ends, swept when its owner died.

Every piece of scratch work (a checkout, a render process's temporary files) gets an area of its
own under the scratch directory: a directory `<name>` beside a lock file `<name>.lock` that its
owner holds (flock) for as long as the area lives. The owner removes both when the work ends, also
when it fails. When the owner is killed, the kernel releases its lock and the area stays behind;
`sweep_scratch` removes every area whose lock nobody holds. That is safe at any time, with any
number of processes sharing the scratch directory: a live owner's area is never touched. Workers
sweep when they start and before each fetch.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


@contextlib.contextmanager
def scratch_area(scratch_dir: Path, *, prefix: str) -> Iterator[Path]:
    """A new empty directory under `scratch_dir`, held by this process during the block and
    removed after it, whatever happens in it."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    fd, lock_path = _held_lock(scratch_dir, prefix)
    area = Path(lock_path.removesuffix(LOCK_SUFFIX))
    try:
        area.mkdir()
        yield area
    finally:
        shutil.rmtree(area, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


def sweep_scratch(scratch_dir: Path) -> list[Path]:
    """Remove the areas under `scratch_dir` whose owner is gone; return what was removed.

    Anything else found there (directories without a lock file, left by an older fleetsync or by
    hand) has no owner either and goes too.
    """
    try:
        entries = sorted(os.scandir(scratch_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("scratch: cannot list %s to sweep it: %s", scratch_dir, exc)
        return []
    removed: list[Path] = []
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.name.endswith(LOCK_SUFFIX):
                if _remove_if_abandoned(path):
                    removed.append(path.with_name(entry.name.removesuffix(LOCK_SUFFIX)))
            elif not os.path.lexists(f"{path}{LOCK_SUFFIX}"):
                # The lock file is made before the area and removed after it: an area without
                # one belongs to nobody.
                _remove(path)
                removed.append(path)
        except OSError as exc:
            log.warning("scratch: cannot sweep %s: %s", path, exc)
    for path in removed:
        log.info("scratch: removed %s, left behind by a process that ended", path)
    return removed


def _held_lock(scratch_dir: Path, prefix: str) -> tuple[int, str]:
    """A new lock file, locked by this process; retried if a sweep took it in between."""
    while True:
        fd, lock_path = tempfile.mkstemp(prefix=prefix, suffix=LOCK_SUFFIX, dir=scratch_dir)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd, lock_path
        except (BlockingIOError, FileNotFoundError):
            pass  # a sweep saw the file before this process locked it: make another
        os.close(fd)


def _remove_if_abandoned(lock_path: Path) -> bool:
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its owner is alive
        try:
            if os.stat(lock_path).st_ino != os.fstat(fd).st_ino:
                return False
        except FileNotFoundError:
            return False
        _remove(lock_path.with_name(lock_path.name.removesuffix(LOCK_SUFFIX)))
        os.unlink(lock_path)
        return True
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
