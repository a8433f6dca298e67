"""The mutation score of the last `mutmut run`, per file and overall, from mutmut's own records
(mutants/**/*.py.meta): killed (or timed out) over every mutant that was checked."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
"""mutmut's exit codes for a mutant a test (or the type checker) caught, or that hung."""
NOT_CHECKED = {None, 2, 34}


def main() -> int:
    files = sorted(Path("mutants").rglob("*.py.meta"))
    if not files:
        print("no mutation results: run `bash .ci/mutation` first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    print(f"{'file':50} {'killed':>7} {'checked':>8} {'score':>6}")
    for meta in files:
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        checked = [c for c in codes if c not in NOT_CHECKED]
        killed = sum(c in KILLED for c in checked)
        total.update(killed=killed, checked=len(checked))
        name = str(meta.relative_to("mutants")).removesuffix(".meta")
        score = f"{100 * killed / len(checked):.1f}%" if checked else "-"
        print(f"{name:50} {killed:>7} {len(checked):>8} {score:>6}")
    overall = 100 * total["killed"] / total["checked"] if total["checked"] else 0.0
    print(f"{'overall':50} {total['killed']:>7} {total['checked']:>8} {overall:>5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
