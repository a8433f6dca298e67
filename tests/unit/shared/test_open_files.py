"""Every fleetsync process raises its soft limit on open files to the hard one: a process started
with the soft limit lowered (as many systems start services, at 1,024) reads the hard one once
fleetsync's module for it is imported. Real subprocesses: a limit is a process's own."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

PRINT_SOFT = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"


def soft_limit_after(imports: str) -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def lowered() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    done = subprocess.run(
        [sys.executable, "-c", f"{imports}; {PRINT_SOFT}"],
        preexec_fn=lowered,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "imports",
    [
        "import fleetsync.workers.app",
        "import fleetsync.scheduler.beat",
        "from fleetsync.shared.open_files import raise_open_files_limit as r; r()",
    ],
)
def test_a_process_raises_its_soft_open_files_limit_to_the_hard_one(imports: str) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard > 256, "the test needs a hard limit above the lowered soft one"
    assert soft_limit_after("pass") == 256
    expected = 256 if hard == resource.RLIM_INFINITY else hard
    assert soft_limit_after(imports) == expected
