"""Prepare the directory in which `bash .ci/mutation --part NAME` runs mutmut on one part of the
engine's core against the tests of that part only.

mutmut reads its settings from `[tool.mutmut]` in the pyproject.toml of the directory it runs in
(setup.cfg's `[mutmut]` only when pyproject.toml has no such section), and keeps its results in
that directory's `mutants/`; a change of the test selection there makes it forget every result
and rerun every test. So each part gets a directory of its own, `.mutation/NAME/`: links to the
sources, the tests and what the tests read, and a pyproject.toml that is the project's with
`[tool.mutmut]` narrowed to the part's modules and tests (the project's `--ignore`s under those
tests kept). Its results accumulate there, beside those of `bash .ci/mutation` in `mutants/`.

Prints the directory. The tests of a part are those written for it; other tests that reach its
code are not run, so a mutant only they would catch counts as not caught: the score is a floor.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

PARTS: dict[str, tuple[list[str], list[str]]] = {
    # name: (modules mutated, tests run)
    "kube": (
        ["fleetsync/shared/kube/*"],
        ["tests/unit/shared/kube", "tests/integration/kube"],
    ),
    "reconcile": (
        ["fleetsync/shared/reconcile.py"],
        [
            "tests/unit/shared/test_reconcile_mode.py",
            "tests/integration/kube",
            "tests/integration/test_retry_and_drift.py",
        ],
    ),
    "source": (
        ["fleetsync/shared/source.py"],
        [
            "tests/unit/shared/test_render_key.py",
            "tests/unit/shared/test_source_messages.py",
            "tests/integration/test_source_errors.py",
            "tests/integration/test_source_pipeline.py",
            "tests/integration/test_variants.py",
            "tests/integration/test_fetch_lock.py",
            # the CLI's render and diff (render_at) and the chart sources
            "tests/integration/test_cli_render.py",
            "tests/integration/charts",
        ],
    ),
    "fleet": (
        ["fleetsync/shared/fleet/*"],
        ["tests/unit/shared", "tests/unit/scheduler"],
    ),
    "tick": (
        ["fleetsync/scheduler/tick.py"],
        [
            "tests/unit/scheduler",
            "tests/integration/test_beat.py",
            "tests/integration/test_fleet_edits.py",
            "tests/integration/test_inflight.py",
            "tests/integration/test_rollouts_across_loss.py",
            "tests/integration/test_source_pipeline.py",
        ],
    ),
}

ROOT = Path(__file__).resolve().parent.parent


def narrowed(section: dict[str, object], modules: list[str], tests: list[str]) -> dict[str, object]:
    """The project's `[tool.mutmut]` with the part's modules and tests."""
    selection = section["pytest_add_cli_args_test_selection"]
    assert isinstance(selection, list)
    ignores = [
        arg
        for arg in selection
        if arg.startswith("--ignore=")
        and any(f"{arg.removeprefix('--ignore=')}/".startswith(f"{path}/") for path in tests)
    ]
    # A part's modules must be among the core's (the fleet part keeps the project's list of them).
    core = section["only_mutate"]
    assert isinstance(core, list)
    only = [path for path in core if any(Path(path).match(module) for module in modules)]
    return section | {"only_mutate": only, "pytest_add_cli_args_test_selection": tests + ignores}


def toml_section(name: str, values: dict[str, object]) -> str:
    # Strings, numbers, booleans and lists of them are written alike in JSON and TOML.
    return f"[{name}]\n" + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in values.items()
    )


def prepare(name: str) -> Path:
    modules, tests = PARTS[name]
    text = (ROOT / "pyproject.toml").read_text()
    section = tomllib.loads(text)["tool"]["mutmut"]
    start = text.index("[tool.mutmut]\n")
    end = text.find("\n[", start) + 1 or len(text)
    part = toml_section("tool.mutmut", narrowed(section, modules, tests))
    directory = ROOT / ".mutation" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(text[:start] + part + "\n" + text[end:])
    for linked in ["fleetsync", "tests", *section.get("also_copy", [])]:
        link = directory / linked
        if not link.is_symlink():
            link.symlink_to(Path("../..") / linked)
    return directory


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in PARTS:
        print(f"usage: mutation_part.py PART, PART one of {', '.join(PARTS)}", file=sys.stderr)
        return 2
    print(prepare(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
