"""Where a rollout's time goes: profile the apply worker and kubesim with py-spy while one
commit reaches C clusters (scenario 1's webhook rollout), and print the hottest functions.

    python -m bench.profile_rollout --clusters 100 --seconds 6 --out bench/out/profile

py-spy samples the running processes from outside (no instrumentation, so the rollout runs at
its normal speed); it needs ptrace rights over them (root, or the same user with
kernel.yama.ptrace_scope=0). Writes <process>.txt (collapsed stacks) and prints, per process,
the functions where the most samples were seen, by own time and by total time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.rig import Rig, RigOptions, app_manifests

RATE = 200


def _record(pid: int, seconds: float, out: Path, *, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy records `pid` for `seconds` into `out`; with `gil`, only the thread holding the GIL
    (Python's own time, what a CPU cost per pair is made of)."""
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(RATE),
            "--format",
            "raw",
            "--subprocesses",
            "--threads",
            "--nonblocking",
            *(["--gil"] if gil else []),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def hottest(collapsed: Path, top: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """(own-time leaders, total-time leaders, samples) from py-spy's collapsed stacks, idle
    threads (waiting on a lock, a socket or a queue) left out."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or _idle(frames[-1]) or not count.isdigit():
            continue  # idle, or a sample py-spy could not read whole
        n = int(count)
        samples += n
        own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            total[frame] += n
    return own.most_common(top), total.most_common(top), samples


def _idle(frame: str) -> bool:
    return any(
        word in frame
        for word in ("wait (threading", "select (", "poll (", "_wait_for_tstate_lock", "sleep")
    )


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where.rsplit(':', 1)[0]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_rollout")
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("bench/out/profile"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="fleetsync-profile-") as tmp,
        Rig(Path(tmp), RigOptions(clusters=args.clusters, with_api=True)) as rig,
    ):
        repo = rig.repo("fleet")
        repo.write("apps/web/app.yaml", app_manifests("web", "0"))
        sha = repo.commit("web")
        rig.write_fleet({"fleet": 3600}, [("web", "fleet", "apps/web", "*")])
        pairs = [("web", c) for c in rig.clusters]
        if len(rig.wait_converged(pairs, sha, 300)) < len(pairs):
            print("the first rollout did not converge", file=sys.stderr)
            return 1
        procs = rig.processes()
        spies = {
            name: _record(procs[name].pid, args.seconds, args.out / f"{name}.txt")
            for name in ("apply", "kubesim", "fetch")
        }
        time.sleep(1.0)  # py-spy attaches
        repo.write("apps/web/app.yaml", app_manifests("web", "1"))
        sha = repo.commit("value 1")
        pushed = time.time()
        assert rig.webhook("fleet") == 202
        done = rig.wait_converged(pairs, sha, 300)
        print(
            f"rollout to {len(done)}/{len(pairs)} clusters: "
            f"{max(done.values()) - pushed:.3f} s (under the profiler)"
        )
        for spy in spies.values():
            spy.wait()
    for name in spies:
        own, total, samples = hottest(args.out / f"{name}.txt", args.top)
        print(f"\n== {name}: {samples} busy samples at {RATE} Hz")
        print("own time:")
        for frame, n in own:
            print(f"  {100 * n / max(samples, 1):5.1f}%  {frame}")
        print("total time:")
        for frame, n in total:
            print(f"  {100 * n / max(samples, 1):5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
