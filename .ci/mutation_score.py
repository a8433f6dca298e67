"""The mutation score recorded in mutants/ (mutmut's own records, mutants/**/*.py.meta), per
file, per part of the engine's core and overall: killed (or timed out) over every mutant that was
checked. Each line also gives how many of the killed timed out (a run on a starved machine times
out mutants its tests would not have caught: a score with many is too high), how many no test
reached (counted as survivors) and how many mutants the file has: a file only partly checked (a
run stopped early) is marked so, and a file none of whose mutants has been checked yet is listed
as not measured and counts nowhere, so a partial run's figure says what it covers. Run it in the
directory that holds mutants/ (.mutation/PART for a part)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
"""mutmut's exit codes for a mutant a test (or the type checker) caught, or that hung."""
TIMED_OUT = {36, -24, 24, 152, 255}
"""Of those, the ones that hung: the tests ran past their time limit."""
NOT_REACHED = {33, 5}
"""mutmut's exit codes for a mutant no selected test reaches (or all of whose tests were set
aside): a survivor."""
NOT_CHECKED = {None, 2, 34}

PARTS = (
    ("fleetsync/shared/kube/", "shared/kube"),
    ("fleetsync/shared/reconcile", "shared/reconcile"),
    ("fleetsync/shared/source", "shared/source"),
    ("fleetsync/shared/fleet", "shared/fleet"),
    ("fleetsync/scheduler/tick", "scheduler/tick"),
)
"""How files are grouped in the summary: the first prefix a file's path starts with."""


def part_of(name: str) -> str:
    return next((label for prefix, label in PARTS if name.startswith(prefix)), "other")


def line(name: str, counts: Counter[str]) -> str:
    killed, checked, total = counts["killed"], counts["checked"], counts["total"]
    score = f"{100 * killed / checked:.1f}%" if checked else "-"
    partial = "  (partly checked)" if checked < total else ""
    return (
        f"{name:50} {killed:>7} {counts['timeouts']:>8} {counts['unreached']:>9} {checked:>8}"
        f" {total:>6} {score:>6}{partial}"
    )


def main() -> int:
    files = sorted(Path("mutants").rglob("*.py.meta"))
    if not files:
        print("no mutation results: run `bash .ci/mutation` first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    parts: dict[str, Counter[str]] = {}
    unmeasured: list[str] = []
    print(
        f"{'file':50} {'killed':>7} {'timeouts':>8} {'unreached':>9} {'checked':>8} {'of':>6}"
        f" {'score':>6}"
    )
    for meta in files:
        codes = list(json.loads(meta.read_text())["exit_code_by_key"].values())
        checked = [c for c in codes if c not in NOT_CHECKED]
        name = str(meta.relative_to("mutants")).removesuffix(".meta")
        if not Path(name).exists():
            continue  # a module since moved or removed: its old results describe nothing
        if not checked:
            if codes:
                unmeasured.append(name)
            continue
        counts = Counter(
            killed=sum(c in KILLED for c in checked),
            timeouts=sum(c in TIMED_OUT for c in checked),
            unreached=sum(c in NOT_REACHED for c in checked),
            checked=len(checked),
            total=len(codes),
        )
        total.update(counts)
        parts.setdefault(part_of(name), Counter()).update(counts)
        print(line(name, counts))
    print()
    for label, counts in parts.items():
        print(line(label, counts))
    print(line("overall (measured files)", total))
    if unmeasured:
        print(f"\nnot measured ({len(unmeasured)} files): {', '.join(unmeasured)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
