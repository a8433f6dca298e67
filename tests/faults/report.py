"""Run the fault suite and write its figures into docs/RELIABILITY.md.

    .venv/bin/python -m tests.faults.report

Runs `pytest tests/faults` with FLEETSYNC_FAULTS_REPORT pointing at a JSON file, then replaces
the table between the markers in docs/RELIABILITY.md with one row per fault. Rows whose fault
this run did not produce (faults other suites add) are kept.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RELIABILITY.md"
BEGIN = "<!-- fault-table:begin -->"
END = "<!-- fault-table:end -->"
HEADER = (
    "| fault | converged again in | objects lost or wrongly deleted | orphans left | "
    "pairs stuck | wrong statuses shown | manual actions | processes `up` restarted | notes |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


def row(f: dict[str, Any]) -> str:
    seconds = f["converge_seconds"]
    shown = "not within the test's wait" if seconds is None else f"{seconds:.1f} s"
    cells = [
        f["fault"],
        shown,
        f["lost_or_wrongly_deleted"],
        f["orphans"],
        f"{f['pairs_stuck']} of {f['pairs']}",
        f["wrong_statuses"],
        f["manual_actions"],
        f["processes_restarted_by_up"],
        f["notes"],
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(figures: list[dict[str, Any]], kept: list[str]) -> str:
    ours = {f["fault"] for f in figures}
    others = [line for line in kept if line.split("|")[1].strip() not in ours]
    stamp = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}."
    )
    return "\n".join([BEGIN, stamp, "", HEADER, *map(row, figures), *others, END])


def existing_rows(text: str) -> list[str]:
    if BEGIN not in text:
        return []
    inside = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [
        line
        for line in inside.splitlines()
        if line.startswith("| ") and not line.startswith(("| fault |", "| --- |"))
    ]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults"],
            cwd=ROOT,
            env={**os.environ, "FLEETSYNC_FAULTS_REPORT": str(out)},
        )
        if not out.exists():
            print("the fault suite wrote no figures", file=sys.stderr)
            return 1
        figures = json.loads(out.read_text())
    text = DOC.read_text()
    new = table(figures, existing_rows(text))
    if BEGIN in text:
        before, rest = text.split(BEGIN, 1)
        text = before + new + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + new + "\n"
    DOC.write_text(text)
    print(f"{DOC}: {len(figures)} faults written")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
