"""What a test that fails without any mutation does to mutation testing (`bash .ci/mutation`).

mutmut runs the selected tests twice without a mutant before it mutates anything: the stats pass
(every selected test, to learn which tests reach which function) and the clean run (the tests of
the functions it is about to mutate), both with `-x`, and it gives up on the whole run when either
fails. A test that fails there for a reason of its own (one sensitive to a loaded machine, say)
would then stop everything, however many other tests pass. mutmut loads this plugin in every test
session it starts (`-p tests.support.mutation_runs` in pyproject.toml's `[tool.mutmut]`), and:

- in the stats pass, every test runs (no `-x`), and a test that fails is left out of mutmut's map
  of tests to functions, so no mutant runs it; mutmut sees it as new at its next run and tries it
  again. A mutant that only such tests reach counts as not caught.
- in the clean run, every test runs too, and those that fail are deselected from every mutant's
  tests that follow (a mutant all of whose tests are deselected counts as not caught: pytest
  collects no test, which mutmut records as "no tests").
- in a mutant's run, the unit tests go first.

Either way the run goes on, and the tests left out are written to `mutants/failed-in-stats.txt`
and `mutants/failed-in-clean-run.txt`, which `.ci/mutation` prints at the end: nothing is left out
silently, and a score is a floor for the tests that ran. Outside mutmut's runs (no
`MUTANT_UNDER_TEST` in the environment) it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

STATS_FAILURES = "failed-in-stats.txt"
CLEAN_RUN_FAILURES = "failed-in-clean-run.txt"


def run_kind(config: pytest.Config) -> str:
    """Which of mutmut's runs this test session is, from the mutant mutmut says is under test."""
    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if mutant == "stats":
        return "stats"
    if mutant == "" and not config.option.collectonly:
        return "clean"
    if mutant and "__mutmut_" in mutant:
        return "mutant"
    return "other"  # not under mutmut, the forced failure, or a collection


class UnmutatedRun:
    """The stats pass or the clean run: every test runs, and one that fails is set aside."""

    def __init__(self, kind: str, record: Path) -> None:
        self.kind = kind
        self.record = record
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.record.write_text("".join(f"{nodeid}\n" for nodeid in sorted(self.failed)))
        if self.kind == "stats":
            forget_in_stats(self.failed)
        if exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK


def forget_in_stats(failed: set[str]) -> None:
    """Leave the failed tests out of the map of tests to functions mutmut is collecting."""
    from mutmut.state import state

    names = failed | {nodeid.removeprefix("mutants/") for nodeid in failed}
    stats = state()
    for tests in stats.tests_by_mangled_function_name.values():
        tests -= names
    for nodeid in names:
        stats.duration_by_test.pop(nodeid, None)


class MutantRun:
    """A mutant's tests, less those that failed in this run's clean run, the unit tests first:
    the first failure ends the run (`-x`), and a unit test fails sooner than an integration test,
    which may first have to start Redis or kubesim."""

    def __init__(self, record: Path) -> None:
        self.record = record

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        items.sort(key=lambda item: not item.nodeid.startswith("tests/unit/"))
        if not self.record.exists():
            return
        failed = set(self.record.read_text().splitlines())
        left_out = [item for item in items if item.nodeid in failed]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if item.nodeid not in failed]


def pytest_configure(config: pytest.Config) -> None:
    kind = run_kind(config)
    if kind in ("stats", "clean"):
        config.option.maxfail = 0
        record = STATS_FAILURES if kind == "stats" else CLEAN_RUN_FAILURES
        plugin: object = UnmutatedRun(kind, config.rootpath / record)
    elif kind == "mutant":
        plugin = MutantRun(config.rootpath / CLEAN_RUN_FAILURES)
    else:
        return
    config.pluginmanager.register(plugin, "fleetsync-mutation-runs")
