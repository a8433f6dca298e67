"""The mutation score recorded in mutants/ (mutmut's own records, mutants/**/*.py.meta), per
file, per part of the engine's core and overall: killed (or timed out) over every mutant that was
checked. Each line also gives how many mutants the file has: a file only partly checked (a run
stopped early) is marked so, and a file none of whose mutants has been checked yet is listed as
not measured and counts nowhere, so a partial run's figure says what it covers."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
"""mutmut's exit codes for a mutant a test (or the type checker) caught, or that hung."""
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


def line(name: str, killed: int, checked: int, total: int) -> str:
    score = f"{100 * killed / checked:.1f}%" if checked else "-"
    partial = "  (partly checked)" if checked < total else ""
    return f"{name:50} {killed:>7} {checked:>8} {total:>6} {score:>6}{partial}"


def main() -> int:
    files = sorted(Path("mutants").rglob("*.py.meta"))
    if not files:
        print("no mutation results: run `bash .ci/mutation` first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    parts: dict[str, Counter[str]] = {}
    unmeasured: list[str] = []
    print(f"{'file':50} {'killed':>7} {'checked':>8} {'of':>6} {'score':>6}")
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
        counts = Counter(killed=sum(c in KILLED for c in checked), checked=len(checked))
        counts["total"] = len(codes)
        total.update(counts)
        parts.setdefault(part_of(name), Counter()).update(counts)
        print(line(name, counts["killed"], counts["checked"], counts["total"]))
    print()
    for label, counts in parts.items():
        print(line(label, counts["killed"], counts["checked"], counts["total"]))
    print(line("overall (measured files)", total["killed"], total["checked"], total["total"]))
    if unmeasured:
        print(f"\nnot measured ({len(unmeasured)} files): {', '.join(unmeasured)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
