"""The mutation score recorded in mutants/ (mutmut's own records, mutants/**/*.py.meta), per
file, per part of the engine's core and overall: killed (or timed out) over every mutant that was
checked. Each line also gives how many of the killed timed out (a run on a starved machine times
out mutants its tests would not have caught: a score with many is too high), how many no test
reached (counted as survivors) and how many mutants the file has: a file only partly checked (a
run stopped early) is marked so, and a file none of whose mutants has been checked yet is listed
as not measured and counts nowhere, so a partial run's figure says what it covers. Run it in the
directory that holds mutants/ (.mutation/PART for a part).

    mutation_score.py            # every mutant checked so far
    mutation_score.py --sample   # only the random sample mutants/sample.json names (the last
                                 # `bash .ci/mutation --sample N`), with its 95% interval
    mutation_score.py --core     # from the project's root: every part's sample in .mutation/,
                                 # and the core's score they estimate together

A sampled score gives its 95% confidence interval (Wilson; .ci/mutation_sample.py) and its
timeouts apart, with the score and interval it would have if every timeout were a survivor."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutation_sample import SAMPLE_FILE, stratified, wilson

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


def codes_by_file(mutants: Path, only: set[str] | None = None) -> dict[str, list[int | None]]:
    """mutmut's exit code of each mutant (of `only`, when given) per source file still there."""
    codes: dict[str, list[int | None]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        name = str(meta.relative_to(mutants)).removesuffix(".meta")
        if not (mutants.parent / name).exists():
            continue  # a module since moved or removed: its old results describe nothing
        by_key = json.loads(meta.read_text())["exit_code_by_key"]
        codes[name] = [c for key, c in by_key.items() if only is None or key in only]
    return codes


def counted(codes: list[int | None]) -> Counter[str]:
    checked = [c for c in codes if c not in NOT_CHECKED]
    return Counter(
        killed=sum(c in KILLED for c in checked),
        timeouts=sum(c in TIMED_OUT for c in checked),
        unreached=sum(c in NOT_REACHED for c in checked),
        checked=len(checked),
        total=len(codes),
    )


def interval(killed: int, checked: int) -> str:
    low, high = wilson(killed, checked)
    return f"{100 * killed / checked:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f}%)"


def sampled(counts: Counter[str]) -> str:
    killed, checked, timeouts = counts["killed"], counts["checked"], counts["timeouts"]
    if not checked:
        return "no sampled mutant checked yet"
    return (
        f"{interval(killed, checked)}, {killed} of {checked} caught; {timeouts} timed out"
        f" (as survivors: {interval(killed - timeouts, checked)})"
    )


def report(codes: dict[str, list[int | None]]) -> Counter[str]:
    total: Counter[str] = Counter()
    parts: dict[str, Counter[str]] = {}
    unmeasured: list[str] = []
    print(
        f"{'file':50} {'killed':>7} {'timeouts':>8} {'unreached':>9} {'checked':>8} {'of':>6}"
        f" {'score':>6}"
    )
    for name, file_codes in codes.items():
        counts = counted(file_codes)
        if not counts["checked"]:
            if file_codes:
                unmeasured.append(name)
            continue
        total.update(counts)
        parts.setdefault(part_of(name), Counter()).update(counts)
        print(line(name, counts))
    print()
    for label, counts in parts.items():
        print(line(label, counts))
    print(line("overall (measured files)", total))
    if unmeasured:
        print(f"\nnot measured ({len(unmeasured)} files): {', '.join(unmeasured)}")
    return total


def read_sample(directory: Path) -> dict[str, object]:
    sample = json.loads((directory / SAMPLE_FILE).read_text())
    assert isinstance(sample, dict)
    return sample


def main(argv: list[str]) -> int:
    if argv == ["--core"]:
        return core(Path(".mutation"))
    if argv not in ([], ["--sample"]):
        print("usage: mutation_score.py [--sample | --core]", file=sys.stderr)
        return 2
    mutants = Path("mutants")
    if not any(mutants.rglob("*.py.meta")):
        print("no mutation results: run `bash .ci/mutation` first", file=sys.stderr)
        return 1
    if argv == ["--sample"]:
        sample = read_sample(Path("."))
        names = sample["names"]
        assert isinstance(names, list)
        print(
            f"random sample of {len(names)} of {sample['population']} mutants,"
            f" seed {sample['seed']} (only these are counted):"
        )
        total = report(codes_by_file(mutants, set(names)))
        print(f"\nsampled score: {sampled(total)}")
        return 0
    report(codes_by_file(mutants))
    return 0


def core(parts_directory: Path) -> int:
    """Every part's last sample, and the core's score they estimate together."""
    strata: list[tuple[int, int, int]] = []
    timeouts = 0
    for sample_file in sorted(parts_directory.glob(f"*/{SAMPLE_FILE}")):
        directory = sample_file.parent.parent
        sample = read_sample(directory)
        names = sample["names"]
        population = sample["population"]
        assert isinstance(names, list) and isinstance(population, int)
        counts: Counter[str] = Counter()
        for file_codes in codes_by_file(directory / "mutants", set(names)).values():
            counts.update(counted(file_codes))
        print(
            f"{directory.name:10} {population:>6} mutants, seed {sample['seed']}: {sampled(counts)}"
        )
        strata.append((counts["killed"], counts["checked"], population))
        timeouts += counts["timeouts"]
    if not strata:
        print("no samples: run `bash .ci/mutation --part NAME --sample N` first", file=sys.stderr)
        return 1
    estimate, low, high = stratified(strata)
    print(
        f"core (parts weighed by their mutants): {100 * estimate:.1f}%"
        f" (95% CI {100 * low:.1f}-{100 * high:.1f}%), {timeouts} timeouts counted as caught"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
