"""Where a local fleetsync runs: `fleetsync up` and `fleetsync demo` write a small state file
naming their Redis, API and Flower, and the CLI reads it when no Redis URL is given, so commands
find a local instance without environment variables (as kubectl finds its current context).

The file is `$XDG_RUNTIME_DIR/fleetsync/instance.json` (else `~/.local/state/fleetsync/...`),
readable by its owner only; `FLEETSYNC_STATE_DIR` moves it. It names the process that wrote it:
a file whose process is gone is ignored (and removed by the next instance).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR_ENV = "FLEETSYNC_STATE_DIR"
FILE_NAME = "instance.json"


@dataclass(frozen=True, slots=True)
class Instance:
    redis_url: str
    api_url: str | None
    flower_url: str | None
    pid: int


def state_dir() -> Path:
    if configured := os.environ.get(STATE_DIR_ENV):
        return Path(configured)
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "fleetsync"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fleetsync"


def local_instance() -> Instance | None:
    """The running local instance, if its state file names a live process."""
    path = state_dir() / FILE_NAME
    try:
        data = json.loads(path.read_text())
        found = Instance(**data)
    except (OSError, ValueError, TypeError):
        return None
    return found if _alive(found.pid) else None


@contextlib.contextmanager
def announced(redis_url: str, *, api_url: str | None, flower_url: str | None) -> Iterator[Path]:
    """Write the state file for this process while the block runs; remove it after, unless
    another instance has written its own since."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / FILE_NAME
    me = Instance(redis_url=redis_url, api_url=api_url, flower_url=flower_url, pid=os.getpid())
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(me), out)
    scratch.replace(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == me.pid:
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
