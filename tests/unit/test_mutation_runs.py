"""The plugin mutmut loads in its test sessions (`tests/support/mutation_runs.py`), in real pytest
processes started the way mutmut starts them: a test failing in the clean run is set aside and
the run goes on, and a mutant's run leaves it out and starts with the unit tests. (The stats pass
edits mutmut's own records, so it is exercised by `bash .ci/mutation` itself.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TESTS = {
    "tests/unit/test_a.py": "def test_passes():\n    pass\n",
    "tests/integration/test_b.py": (
        "import os\n\n"
        "def test_fails_unmutated():\n"
        "    assert os.environ['MUTANT_UNDER_TEST'] != ''\n\n"
        "def test_passes():\n"
        "    pass\n"
    ),
    "tests/unit/test_c.py": "def test_passes():\n    pass\n",
}


PYTEST = [sys.executable, "-m", "pytest", "--rootdir=.", "-p", "no:cacheprovider", "-x", "-v"]


def run(directory: Path, mutant: str | None) -> subprocess.CompletedProcess[str]:
    """pytest as mutmut runs it (`-x`, the plugin, the mutant named in the environment)."""
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    if mutant is not None:
        env["MUTANT_UNDER_TEST"] = mutant
    return subprocess.run(
        [*PYTEST, "-p", "tests.support.mutation_runs", *sorted(TESTS)],
        cwd=directory,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in TESTS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_test_failing_in_the_clean_run_is_set_aside_and_the_run_goes_on(project: Path) -> None:
    clean = run(project, "")

    assert clean.returncode == 0, clean.stdout
    assert "1 failed, 3 passed" in clean.stdout
    assert (project / "failed-in-clean-run.txt").read_text() == (
        "tests/integration/test_b.py::test_fails_unmutated\n"
    )


def test_a_mutant_s_run_leaves_out_what_failed_unmutated_and_runs_unit_tests_first(
    project: Path,
) -> None:
    (project / "failed-in-clean-run.txt").write_text("tests/unit/test_c.py::test_passes\n")

    mutant = run(project, "fleetsync.shared.kube.plan.x_wave_of__mutmut_1")

    assert mutant.returncode == 0, mutant.stdout
    ran = [line.split(" ")[0] for line in mutant.stdout.splitlines() if "::" in line]
    assert ran[:3] == [
        "tests/unit/test_a.py::test_passes",
        "tests/integration/test_b.py::test_fails_unmutated",
        "tests/integration/test_b.py::test_passes",
    ]
    assert "1 deselected" in mutant.stdout


def test_outside_mutmut_s_runs_a_failing_test_still_fails_the_run(project: Path) -> None:
    plain = run(project, None)

    assert plain.returncode == 1, plain.stdout
    assert "1 failed in" in plain.stdout  # -x: stopped at the failure, the first test run
    assert not (project / "failed-in-clean-run.txt").exists()
