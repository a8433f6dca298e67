"""Random mutant sampling, for `bash .ci/mutation [--part NAME] --sample N [--seed S]`.

Checking every mutant of the engine's core takes about a day on two cores, so a score is
estimated the established way when that is too costly (random mutant sampling: Acree and Budd;
Wong and Mathur): N of the mutants are drawn uniformly at random, without replacement, and only
they are run; the share caught among them estimates the share caught among all, with a 95%
confidence interval (Wilson's score interval, which stays inside 0-100% and holds for scores near
100% and samples of a few dozen, where the normal approximation does not). The draw is seeded, so
a sample can be named and rerun: the same mutants, the same seed and the same code draw the same
names.

    mutation_sample.py generate             # write mutants/ without running any test
    mutation_sample.py pick N SEED          # draw N mutant names, record them, print them

`pick` records the draw in mutants/sample.json, which `.ci/mutation_score.py --sample` reads to
score only those mutants, and `.ci/mutation_score.py --core` reads in every part's directory to
combine the parts' samples into one estimate for the core (each part weighed by its number of
mutants: a stratified sample). Run it in the directory that holds mutants/ (.mutation/PART for a
part).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from collections.abc import Iterable
from pathlib import Path

Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""

SAMPLE_FILE = Path("mutants/sample.json")


def pick(names: Iterable[str], n: int, seed: int) -> list[str]:
    """N of the names drawn uniformly at random without replacement (all of them when there are
    no more than N), sorted; the same names and seed always draw the same sample."""
    if n < 1:
        raise ValueError(f"a sample needs at least one mutant, not {n}")
    population = sorted(set(names))
    return sorted(random.Random(seed).sample(population, min(n, len(population))))


def wilson(caught: int, checked: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for the share caught, as (low, high) fractions."""
    if not 0 <= caught <= checked:
        raise ValueError(f"{caught} caught of {checked} checked")
    if checked == 0:
        return 0.0, 1.0
    p = caught / checked
    z2 = z * z
    centre = (p + z2 / (2 * checked)) / (1 + z2 / checked)
    half = z * math.sqrt(p * (1 - p) / checked + z2 / (4 * checked * checked)) / (1 + z2 / checked)
    return max(0.0, centre - half), min(1.0, centre + half)


def stratified(
    strata: Iterable[tuple[int, int, int]], z: float = Z95
) -> tuple[float, float, float]:
    """The core's score from one sample per part: each (caught, checked, mutants in the part)
    weighed by the part's share of all mutants. Returns (estimate, low, high); the interval is the
    normal one of the stratified estimate, each part's variance taken from its Wilson-centred share
    so that a part whose sample caught everything still counts as uncertain."""
    parts = [(caught, checked, size) for caught, checked, size in strata if checked]
    total = sum(size for _, _, size in parts)
    if not total:
        raise ValueError("no part has a checked sample")
    estimate = variance = 0.0
    for caught, checked, size in parts:
        weight = size / total
        estimate += weight * caught / checked
        low, high = wilson(caught, checked, z)
        centre = (low + high) / 2
        # finite population correction: a sample of the whole part has no sampling error
        correction = (size - checked) / (size - 1) if size > 1 else 0.0
        variance += weight * weight * centre * (1 - centre) / checked * correction
    half = z * math.sqrt(variance)
    return estimate, max(0.0, estimate - half), min(1.0, estimate + half)


def mutant_names(mutants: Path = Path("mutants")) -> list[str]:
    """Every mutant mutmut generated under mutants/ (of sources that still exist)."""
    names: list[str] = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        if Path(str(meta.relative_to(mutants)).removesuffix(".meta")).exists():
            names.extend(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def generate(max_children: int) -> None:
    """mutmut's first step, writing every mutant to mutants/, without running a test (mutmut's
    next run finds the files unchanged and keeps them)."""
    from mutmut.__main__ import create_mutants, store_lines_covered_by_tests
    from mutmut.mutation.trampoline import set_mutant_under_test
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    store_lines_covered_by_tests()
    create_mutants(max_children)


def main(argv: list[str]) -> int:
    if argv[:1] == ["generate"] and len(argv) == 1:
        generate(max_children=2)
        return 0
    if argv[:1] == ["pick"] and len(argv) == 3:
        n, seed = int(argv[1]), int(argv[2])
        population = mutant_names()
        if not population:
            print("no mutants under mutants/: generate them first", file=sys.stderr)
            return 1
        names = pick(population, n, seed)
        SAMPLE_FILE.write_text(
            json.dumps(
                {"seed": seed, "size": n, "population": len(set(population)), "names": names}
            )
        )
        print("\n".join(names))
        return 0
    print("usage: mutation_sample.py generate | pick N SEED", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
