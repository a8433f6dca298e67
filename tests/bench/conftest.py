"""The benchmarks' smoke tests run a benchmark module as users do (`python -m bench.<name>`,
from the repository root, in a process of its own) and read the figures it wrote."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RunBench = Callable[..., Path]


@pytest.fixture
def run_bench(tmp_path: Path) -> RunBench:
    """`run_bench(module, out_name, options, timeout=600)`: run `python -m <module> <options>
    --out <tmp_path/out_name>`, fail with the end of its output unless it exits 0, and return
    the path it wrote its figures to."""

    def run(module: str, out_name: str, options: str, *, timeout: float = 600) -> Path:
        out = tmp_path / out_name
        done = subprocess.run(
            [sys.executable, "-m", module, *shlex.split(options), "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return out

    return run
