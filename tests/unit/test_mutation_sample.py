"""The random mutant sample of `bash .ci/mutation --sample N` (.ci/mutation_sample.py): the draw
and the interval arithmetic, and the sampled score .ci/mutation_score.py prints from mutmut's
records."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sampling = load("mutation_sample")
NAMES = [f"fleetsync.shared.kube.prune.x_f__mutmut_{i}" for i in range(1, 41)]


def test_a_seed_draws_the_same_sample_whatever_the_order_of_the_names() -> None:
    drawn = sampling.pick(NAMES, 7, seed=3)
    assert drawn == sampling.pick(list(reversed(NAMES)), 7, seed=3)
    assert drawn == sorted(drawn)
    assert len(set(drawn)) == 7 and set(drawn) <= set(NAMES)
    assert sampling.pick(NAMES, 7, seed=4) != drawn


def test_a_sample_no_smaller_than_the_mutants_takes_them_all() -> None:
    assert sampling.pick(NAMES + NAMES[:5], 100, seed=1) == sorted(NAMES)
    with pytest.raises(ValueError, match="at least one"):
        sampling.pick(NAMES, 0, seed=1)


def test_every_mutant_is_as_likely_to_be_drawn() -> None:
    # 4,000 seeded draws of 10 of 40: each mutant is drawn a quarter of the time (deterministic,
    # since the seeds are fixed; a draw favouring the first or last names would be far off).
    counts = Counter(name for seed in range(4000) for name in sampling.pick(NAMES, 10, seed))
    assert sum(counts.values()) == 40_000
    assert all(900 <= counts[name] <= 1100 for name in NAMES), counts


def test_wilson_interval() -> None:
    low, high = sampling.wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    # all caught: the interval still reaches well below 100% (the normal one is a point there)
    assert sampling.wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert sampling.wilson(0, 10)[0] == 0.0
    low, high = sampling.wilson(128, 150)
    assert 0.78 < low < 128 / 150 < high < 0.91
    assert sampling.wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        sampling.wilson(11, 10)


def test_parts_are_weighed_by_their_mutants() -> None:
    estimate, low, high = sampling.stratified([(8, 10, 100), (10, 10, 300)])
    assert estimate == pytest.approx(0.25 * 0.8 + 0.75 * 1.0)
    assert low < estimate < high
    # a part sampled whole has no sampling error
    assert sampling.stratified([(80, 100, 100)]) == pytest.approx((0.8, 0.8, 0.8))
    # a part whose sample caught every mutant still leaves the estimate uncertain
    assert sampling.stratified([(20, 20, 500)])[1] < 1.0


def write_results(directory: Path, codes: dict[str, int | None]) -> None:
    (directory / "fleetsync").mkdir()
    (directory / "fleetsync/prune.py").write_text("")
    meta = directory / "mutants/fleetsync/prune.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": codes}))


def test_the_sampled_score_counts_only_the_sample(tmp_path: Path) -> None:
    # 10 mutants: the sample's 4 are caught, a timeout, a survivor and one no test reaches;
    # the others, left out of the sample, all survived and must not count.
    sample = [f"m{i}" for i in range(4)] + ["t", "s", "u"]
    codes: dict[str, int | None] = {name: 1 for name in sample[:4]}
    codes |= {"t": 36, "s": 0, "u": 33, "x1": 0, "x2": 0, "x3": None}
    part = tmp_path / "kube"
    part.mkdir()
    write_results(part, codes)
    (part / "mutants/sample.json").write_text(
        json.dumps({"seed": 5, "size": 7, "population": 10, "names": sample})
    )
    score = [sys.executable, str(ROOT / ".ci/mutation_score.py")]
    out = subprocess.run(
        [*score, "--sample"], cwd=part, capture_output=True, text=True, check=True
    ).stdout
    assert "random sample of 7 of 10 mutants, seed 5" in out
    low, high = sampling.wilson(5, 7)
    assert f"71.4% (95% CI {100 * low:.1f}-{100 * high:.1f}%), 5 of 7 caught; 1 timed out" in out
    assert "(as survivors: 57.1%" in out
    # every mutant checked, sample or not
    whole = subprocess.run(score, cwd=part, capture_output=True, text=True, check=True).stdout
    assert "5        1         1        9     10  55.6%" in whole
    # the core's estimate from the parts' samples
    (tmp_path / "empty").mkdir()
    core = subprocess.run(
        [*score, "--core"], cwd=tmp_path / "empty", capture_output=True, text=True
    )
    assert core.returncode == 1 and "no samples" in core.stderr
    (tmp_path / ".mutation").mkdir()
    part.rename(tmp_path / ".mutation/kube")
    out = subprocess.run(
        [*score, "--core"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "kube           10 mutants, seed 5: 71.4%" in out
    assert "core (parts weighed by their mutants): 71.4%" in out
