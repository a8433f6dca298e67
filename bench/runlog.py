"""What every figure carries beside it: the command that made it, the commit, when it started and
the machine's load average (at its start and end), as one JSON line printed and, with an output
file, appended to it (bench/results/*.jsonl)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def context(module: str, argv: list[str] | None) -> dict[str, str]:
    args = argv if argv is not None else sys.argv[1:]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "command": f"python -m {module} {shlex.join(args)}".strip(),
        "commit": commit,
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "load_average": load_average(),
    }


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def emit(line: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(line)
    print(text, flush=True)
    if out is not None:
        with out.open("a") as f:
            f.write(text + "\n")


def stop_cleanly_on_term() -> None:
    """SIGTERM ends the run as Ctrl-C would: every rig, real cluster and server it started is
    stopped on the way out (a run started in the background ignores SIGINT)."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
