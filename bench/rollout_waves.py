"""A progressive rollout over a fleet, against the same commit's plain fan-out
(`python -m bench.rollout_waves`).

The rig (bench/rig.py: a redis-server, `kubesim serve`, a git daemon, fleetsync's processes as
`fleetsync up` starts them) holds one application on C clusters. First, without a rollout
policy, a commit fans out to every cluster at once: the fan-out time. Then fleet.yaml gives the
application a rollout of 3 waves (10 clusters, 40% of the rest, the rest) with a bake of B
seconds, and the next commit rolls out: the time from the push notification until the rollout
is Complete and every cluster is Synced at the commit. The target: that time is the bakes
(2 x B: the last wave does not bake) plus the fan-out, not more. Per wave: when it was reached,
how long until every cluster of it was ready, and how long the beat took from the end of the
previous wave's bake to reaching it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.rig import Rig, RigOptions, app_manifests
from fleetsync.shared.model.rollout import Phase, Rollout
from tests.support.git_server import WorkRepo

CANARIES = 10


def fleet_yaml(rig: Rig, *, bake: float | None) -> str:
    lines = [
        "repositories:",
        f'  - {{name: fleet, url: "{rig.git.git_url("fleet")}", interval: 3600s}}',
    ]
    lines.append("clusters:")
    for n, c in enumerate(rig.clusters):
        ring = "canary" if n < CANARIES else "main"
        lines.append(
            f"  - {{name: {c}, kubeconfig: {rig.kubeconfigs / (c + '.kubeconfig')}, "
            f"labels: {{fleet: bench, ring: {ring}}}}}"
        )
    lines += [
        "applications:",
        "  - name: web",
        "    repository: fleet",
        "    path: apps/web",
        "    namespace: default",
        "    targets: {selector: {matchLabels: {fleet: bench}}}",
        "    sync: {driftInterval: 30m}",
    ]
    if bake is not None:
        lines += [
            "    rollout:",
            "      waves:",
            "        - {name: canary, selector: {matchLabels: {ring: canary}}}",
            "        - {name: forty, percent: 40}",
            f"      bake: {bake:g}s",
            "      progressDeadline: 10m",
        ]
    return "\n".join(lines) + "\n"


def declare(rig: Rig, *, bake: float | None) -> None:
    """Write fleet.yaml and wait until the beat published it."""
    before = rig.store.fleet_digest()
    rig.fleet_file.write_text(fleet_yaml(rig, bake=bake))
    deadline = time.monotonic() + 60
    while rig.store.fleet_digest() == before:
        if time.monotonic() > deadline:
            raise RuntimeError("the beat did not publish the new fleet.yaml within 60 s")
        time.sleep(0.1)


def commit(rig: Rig, repo: WorkRepo, value: str) -> tuple[str, float]:
    repo.write("apps/web/app.yaml", app_manifests("web", value))
    sha = repo.commit(f"value {value}")
    pushed = time.time()
    assert rig.webhook("fleet") == 202
    return sha, pushed


def wait_all(rig: Rig, sha: str, timeout: float) -> float:
    pairs = [("web", c) for c in rig.clusters]
    done = rig.wait_converged(pairs, sha, timeout)
    if len(done) < len(pairs):
        raise RuntimeError(f"{len(done)} of {len(pairs)} clusters converged within {timeout}s")
    return max(done.values())


def wait_complete(rig: Rig, sha: str, timeout: float) -> Rollout:
    deadline = time.monotonic() + timeout
    while True:
        r = rig.store.rollout("web")
        if r is not None and r.revision.sha == sha and not r.phase.moving:
            if r.phase is not Phase.COMPLETE:
                raise RuntimeError(f"the rollout stopped: {r.phase}: {r.reason}")
            return r
        if time.monotonic() > deadline:
            raise RuntimeError(f"the rollout did not complete within {timeout}s: {r}")
        time.sleep(0.2)


def run(work: Path, clusters: int, bake: float, timeout: float) -> dict[str, Any]:
    with Rig(work, RigOptions(clusters=clusters, with_api=True)) as rig:
        repo = rig.repo("fleet")
        repo.write("apps/web/app.yaml", app_manifests("web", "0"))
        first = repo.commit("web")
        rig.fleet_file.write_text(fleet_yaml(rig, bake=None))
        wait_all(rig, first, timeout)

        sha, pushed = commit(rig, repo, "1")
        fanout = wait_all(rig, sha, timeout) - pushed

        declare(rig, bake=bake)
        sha, pushed_rollout = commit(rig, repo, "2")
        rollout = wait_complete(rig, sha, timeout + 3 * bake)
        converged = wait_all(rig, sha, timeout)
        total = max(converged, rollout.updated_at) - pushed_rollout
        plan = rig.store.rollout_plan("web")
        progress = rig.store.rollout_progress("web")
        assert plan is not None

        # The plain fan-out again, after the rollout: the machine's load moves (a shared
        # machine), the rollout is compared with the mean of both.
        declare(rig, bake=None)
        sha, pushed = commit(rig, repo, "3")
        fanout_after = wait_all(rig, sha, timeout) - pushed

        waves = []
        ready_before: float | None = None
        for wave in plan.waves:
            reached = [progress[c].released_at for c in wave.clusters]
            ready = [progress[c].since or 0.0 for c in wave.clusters]
            row = {
                "name": wave.name,
                "clusters": len(wave.clusters),
                "reached_after_push": round(min(reached) - pushed_rollout, 2),
                "reaching_seconds": round(max(reached) - min(reached), 2),
                "all_ready_seconds": round(max(ready) - min(reached), 2),
            }
            if ready_before is not None:
                row["after_previous_bake"] = round(min(reached) - (ready_before + bake), 2)
            ready_before = max(ready)
            waves.append(row)
    bakes = bake * (len(plan.waves) - 1)
    fanouts = (fanout + fanout_after) / 2
    in_waves = sum(float(w["all_ready_seconds"]) for w in waves)
    return {
        "clusters": clusters,
        "bake_seconds": bake,
        "fanout_seconds": [round(fanout, 2), round(fanout_after, 2)],
        "rollout_seconds": round(total, 2),
        "bakes_plus_fanout": round(bakes + fanouts, 2),
        "over_bakes_plus_fanout": round(total - bakes - fanouts, 2),
        "waves_fanout_seconds": round(in_waves, 2),
        "between_waves_seconds": round(total - bakes - in_waves, 2),
        "waves": waves,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_waves")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--bake", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, help="also write the figures there as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fleetsync-rollout-waves-") as work:
        figures = run(Path(work), args.clusters, args.bake, args.timeout)
    print(
        f"{figures['clusters']} clusters, 3 waves, bake {figures['bake_seconds']:g}s: "
        f"rollout {figures['rollout_seconds']}s; plain fan-out before and after "
        f"{figures['fanout_seconds']}s; bakes + mean fan-out {figures['bakes_plus_fanout']}s "
        f"({figures['over_bakes_plus_fanout']:+}s); the waves' own fan-outs "
        f"{figures['waves_fanout_seconds']}s; the rest (reaching, judging, moving on) "
        f"{figures['between_waves_seconds']}s"
    )
    print(
        "| wave | clusters | reached (s after push) | reaching took | all ready after | "
        "reached after the previous bake ended |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for w in figures["waves"]:
        print(
            f"| {w['name']} | {w['clusters']} | {w['reached_after_push']} | "
            f"{w['reaching_seconds']} | {w['all_ready_seconds']} | "
            f"{w.get('after_previous_bake', '-')} |"
        )
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
