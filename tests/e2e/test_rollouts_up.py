"""Progressive rollouts through `fleetsync up`: the beat, the poll/fetch and apply workers and the
API as the real child processes `up` starts (with its embedded Redis), kubesim clusters over
HTTP, a git repository served over git://, and the operator's `fleetsync` commands run as
processes that find the running instance by its state file.

Covered: waves and bakes, a newer commit superseding a rollout, the operator's pause, resume,
promote and abort, a wave that never becomes ready (pause, or rollback), a canary turning
Degraded, a canary whose sync fails, maxParallel, the beat and an apply worker killed
mid-rollout, a deny window, the operator's pin (a newer commit waits for the pinned rollout,
through restarts of every process, and starts from wave 1 when it ends or is unpinned), a deny
window opening and an allow window closing while the canary bakes (each computed from the
clock, closing seconds later, opening again by its own schedule), and a freeze while the canary
bakes.

One `up` serves the module; each test has an application of its own on clusters of its own
(kubesim's controller knobs are per cluster: a wave made to fail fails only that application).
Tests wait on the rollout's state in Redis and on the clusters' objects, never on the clock.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.rollout import Phase, Rollout, RolloutPlan, Verdict
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store
from kubesim import Simulator
from tests.e2e.test_up import children
from tests.support.git_server import GitServer, WorkRepo
from tests.support.processes import Proc
from tests.support.up import start_up, up_env
from tests.support.waiting import wait_for

# application -> (its clusters, the first one its canary; its rollout policy)
APPS: dict[str, tuple[tuple[str, ...], str]] = {
    "web": (
        ("web-canary", "web-2", "web-3", "web-4", "web-5"),
        "bake: 3s, progressDeadline: 60s, onFailure: pause",
    ),
    "stall": (
        ("stall-canary", "stall-2", "stall-3"),
        "bake: 1s, progressDeadline: 3s, onFailure: pause",
    ),
    "guard": (
        ("guard-canary", "guard-2", "guard-3"),
        "bake: 1s, progressDeadline: 3s, onFailure: rollback",
    ),
    "ops": (
        ("ops-canary", "ops-2", "ops-3", "ops-4"),
        "bake: 1h, progressDeadline: 60s, onFailure: pause",
    ),
    "steady": (
        ("steady-canary", "steady-2", "steady-3"),
        "bake: 4s, progressDeadline: 60s, onFailure: pause",
    ),
    "vet": (
        ("vet-canary", "vet-2", "vet-3"),
        "bake: 1s, progressDeadline: 5m, onFailure: pause",
    ),
    "drip": (
        ("drip-canary", "drip-2", "drip-3", "drip-4", "drip-5", "drip-6"),
        "bake: 1s, progressDeadline: 60s, maxParallel: 1",
    ),
    "strict": (
        ("strict-canary", "strict-2", "strict-3"),
        "bake: 1s, progressDeadline: 5m, onFailure: pause",
    ),
    "hold": (
        ("hold-canary", "hold-2", "hold-3", "hold-4"),
        "bake: 1h, progressDeadline: 60s, onFailure: pause",
    ),
    "late": (
        ("late-canary", "late-2", "late-3"),
        "bake: 15s, progressDeadline: 60s, onFailure: pause",
    ),
    "ring": (
        ("ring-canary", "ring-2", "ring-3"),
        "bake: 15s, progressDeadline: 60s, onFailure: pause",
    ),
    "thaw": (
        ("thaw-canary", "thaw-2", "thaw-3"),
        "bake: 10s, progressDeadline: 60s, onFailure: pause",
    ),
    "calm": (("calm-1", "calm-2"), ""),  # no rollout: for change windows
}

REFUSED_SERVICE = """\
---
apiVersion: v1
kind: Service
metadata: {name: strict}
spec:
  selector: {app: strict}
  ports: [{port: eighty}]
"""

CHECK_JOB = """\
---
apiVersion: batch/v1
kind: Job
metadata: {name: check}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: check, image: "busybox:1.36", command: [sh, -c, "exit 1"]}]
"""


def manifests(app: str, value: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: {app}-config}}
        data: {{value: "{value}"}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {app}}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: {app}}}}}
          template:
            metadata: {{labels: {{app: {app}}}, annotations: {{value: "{value}"}}}}
            spec: {{containers: [{{name: {app}, image: "nginx:1.27"}}]}}
        """)


def fleet_yaml(url: str, sim: Simulator) -> str:
    clusters, apps = [], []
    for app, (names, policy) in APPS.items():
        for name in names:
            ring = "canary" if name.endswith("-canary") else "main"
            clusters.append(
                f"  - {{name: {name}, kubeconfig: {sim.kubeconfig_path(name)}, "
                f"labels: {{app: {app}, ring: {ring}}}}}\n"
            )
        apps.append(
            f"  - name: {app}\n"
            "    repository: platform\n"
            f"    path: apps/{app}\n"
            "    namespace: default\n"
            f"    targets: {{selector: {{matchLabels: {{app: {app}}}}}}}\n"
            + (
                "    sync: {driftInterval: 30s}\n"
                "    rollout:\n"
                "      waves:\n"
                "        - {name: canary, selector: {matchLabels: {ring: canary}}}\n"
                "        - {name: half, percent: 50}\n"
                + "".join(f"      {item}\n" for item in policy.split(", "))
                if policy
                else "    sync: {driftInterval: 2s, selfHeal: true}\n"
            )
        )
    return (
        f'repositories:\n  - {{name: platform, url: "{url}", ref: main, interval: 1s}}\n'
        + "clusters:\n"
        + "".join(clusters)
        + "applications:\n"
        + "".join(apps)
    )


@dataclass
class Up:
    """The running `fleetsync up`, and how the tests look at it and steer it."""

    proc: Proc
    store: Store
    sim: Simulator
    repo: WorkRepo
    env: dict[str, str]
    fleet_file: Path

    def commit(self, app: str, value: str) -> str:
        self.repo.write(f"apps/{app}/{app}.yaml", manifests(app, value))
        return self.repo.commit(f"{app}: {value}")

    def value_on(self, app: str, cluster: str) -> str | None:
        for obj in self.sim.cluster(cluster).objects():
            meta = obj.get("metadata", {})
            if obj.get("kind") == "ConfigMap" and meta.get("name") == f"{app}-config":
                return str((obj.get("data") or {}).get("value"))
        return None

    def values(self, app: str, clusters: tuple[str, ...]) -> list[str | None]:
        return [self.value_on(app, c) for c in clusters]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`fleetsync ARGS` as an operator runs it: no Redis URL, the instance found by `up`'s
        state file."""
        return subprocess.run(
            [sys.executable, "-m", "fleetsync", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def rollout(
        self, app: str, sha: str, condition: Callable[[Rollout], bool], what: str
    ) -> Rollout:
        def check() -> Rollout | None:
            r = self.store.rollout(app)
            return r if r is not None and r.revision.sha == sha and condition(r) else None

        found: Rollout | None
        try:
            found = wait_for(check, timeout=90, interval=0.1, what=f"{app}: {what}")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; rollout {self.store.rollout(app)}; "
                f"progress {self.store.rollout_progress(app)}; up's output:\n"
                + "\n".join(self.proc.lines[-60:])
            ) from exc
        assert found is not None
        return found

    def edit_by_hand(self, app: str, cluster: str, value: str) -> None:
        """Change the application's ConfigMap the way `kubectl edit` would."""
        api = k8s_config.new_client_from_config(config_file=str(self.sim.kubeconfig_path(cluster)))
        DynamicClient(api).resources.get(api_version="v1", kind="ConfigMap").patch(
            name=f"{app}-config",
            namespace="default",
            body={"data": {"value": value}},
            content_type="application/merge-patch+json",
            field_manager="kubectl-edit",
        )

    def declare(self, windows: str) -> None:
        """Rewrite fleet.yaml with `windows` appended; wait until the beat published it."""
        before = self.store.fleet_digest()
        text = self.fleet_file.read_text().split("windows:")[0]
        self.fleet_file.write_text(text + windows)
        wait_for(
            lambda: self.store.fleet_digest() != before,
            timeout=30,
            what="the beat publishing the edited fleet.yaml",
        )

    def plan(self, app: str) -> RolloutPlan:
        plan = self.store.rollout_plan(app)
        assert plan is not None
        return plan

    def wait_status(
        self,
        app: str,
        condition: Callable[[PairStatus], bool],
        what: str,
        *,
        clusters: tuple[str, ...] | None = None,
    ) -> dict[str, PairStatus]:
        names = clusters or APPS[app][0]

        def check() -> dict[str, PairStatus] | None:
            found = {c: self.store.status(app, c) for c in names}
            if all(s is not None and condition(s) for s in found.values()):
                return {c: s for c, s in found.items() if s is not None}
            return None

        result: dict[str, PairStatus] | None = wait_for(
            check, timeout=60, interval=0.2, what=f"{app}: {what}"
        )
        assert result is not None
        return result

    def wait_converged(self, app: str, value: str) -> None:
        names = APPS[app][0]

        def converged() -> bool:
            statuses = [self.store.status(app, c) for c in names]
            return all(
                s is not None and s.sync is SyncState.SYNCED and s.health is Health.HEALTHY
                for s in statuses
            ) and self.values(app, names) == [value] * len(names)

        wait_for(converged, timeout=120, interval=0.2, what=f"{app} on {value} everywhere")


@pytest.fixture(scope="module")
def up(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    work = tmp_path_factory.mktemp("rollouts-up")
    repo = git_server.create_repo(f"rollouts-up-{work.name}")
    for app in APPS:
        repo.write(f"apps/{app}/{app}.yaml", manifests(app, "one"))
    repo.commit("one")
    names = [c for clusters, _ in APPS.values() for c in clusters]
    with Simulator(clusters=names, kubeconfig_dir=work / "kubeconfigs") as sim:
        for name in names:
            sim.cluster(name).set_controllers(enabled=True, ready_delay=0.2)
        fleet = work / "fleet.yaml"
        fleet.write_text(fleet_yaml(git_server.git_url(repo.name), sim))
        env = up_env(work, COLUMNS="200")
        running = start_up(fleet, env, data_dir=work / "data")
        try:
            harness = Up(
                proc=running.proc,
                store=Store.connect(running.redis_url()),
                sim=sim,
                repo=repo,
                env=env,
                fleet_file=fleet,
            )
            for app in APPS:
                harness.wait_converged(app, "one")
            yield harness
        finally:
            assert running.stop() == 0, running.output()[-4000:]


def test_a_commit_reaches_the_canary_bakes_then_reaches_the_next_wave(up: Up) -> None:
    clusters = APPS["web"][0]
    sha = up.commit("web", "two")
    baking = up.rollout("web", sha, lambda r: r.phase is Phase.BAKING, "the canary baking")
    assert baking.wave == 0
    plan = up.plan("web")
    assert [w.name for w in plan.waves] == ["canary", "half", "rest"]
    assert plan.waves[0].clusters == ("web-canary",)
    assert up.value_on("web", "web-canary") == "two"
    # Clusters the rollout has not reached keep what they ran while the canary bakes.
    assert up.values("web", clusters[1:]) == ["one"] * 4
    up.rollout("web", sha, lambda r: r.phase is Phase.COMPLETE, "every wave done")
    up.wait_converged("web", "two")
    progress = up.store.rollout_progress("web")
    canary_ready = progress[ClusterName("web-canary")].since
    assert canary_ready is not None
    # The second wave was reached only once the canary had baked for 3 s, the last one only
    # once the second had.
    second = [progress[c] for c in plan.waves[1].clusters]
    assert min(p.released_at for p in second) >= canary_ready + 3.0
    second_ready = max(p.since or 0.0 for p in second)
    assert min(progress[c].released_at for c in plan.waves[2].clusters) >= second_ready + 3.0
    assert "Complete" in up.cli("rollout", "status", "web").stdout


def test_a_newer_commit_supersedes_the_rollout_and_starts_again_from_the_canary(up: Up) -> None:
    clusters = APPS["ops"][0]
    two = up.commit("ops", "two")
    up.rollout("ops", two, lambda r: r.phase is Phase.BAKING, "the canary baking (1 h)")
    three = up.commit("ops", "three")
    again = up.rollout("ops", three, lambda r: r.phase is Phase.BAKING, "the new canary baking")
    assert again.wave == 0
    assert up.value_on("ops", "ops-canary") == "three"
    assert up.values("ops", clusters[1:]) == ["one"] * 3
    aborted = up.cli("rollout", "abort", "ops")
    assert aborted.returncode == 0, aborted.stderr
    # Each cluster returns to what it ran when the aborted rollout started: the canary to the
    # superseded rollout's commit, the others to the first.
    wait_for(
        lambda: up.values("ops", clusters) == ["two", "one", "one", "one"],
        timeout=60,
        what="the canary back on what it ran before the aborted rollout",
    )


def test_an_operator_pauses_resumes_promotes_and_aborts_from_the_cli(up: Up) -> None:
    clusters = APPS["ops"][0]
    refused = up.cli("rollout", "promote", "ops")
    assert refused.returncode == 1
    assert "ops: no rollout in progress" in refused.stderr
    before = up.values("ops", clusters)
    sha = up.commit("ops", "four")
    up.rollout("ops", sha, lambda r: r.phase is Phase.BAKING, "the canary baking (1 h)")
    shown = up.cli("rollout", "status", "ops")
    assert shown.returncode == 0, shown.stderr
    assert "Baking: wave 1/3 'canary'" in shown.stdout
    assert re.search(r"bake: \d+s of 3600s remaining", shown.stdout), shown.stdout
    assert re.search(r"ops-canary\s+ready\s+main@sha1:" + sha[:12], shown.stdout), shown.stdout
    status = up.cli("status", "ops")
    assert status.returncode == 0, status.stderr
    assert "wave 1/3 'canary' baking" in status.stdout, status.stdout
    paused = up.cli("rollout", "pause", "ops")
    assert paused.returncode == 0 and "now Paused" in paused.stdout, paused.stderr
    now = up.store.rollout("ops")
    assert now is not None and now.paused_by == "operator"
    shown = up.cli("rollout", "status", "ops")
    assert "paused by the operator" in shown.stdout, shown.stdout
    not_now = up.cli("rollout", "promote", "ops")
    assert not_now.returncode == 1 and "resume it before promoting" in not_now.stderr
    resumed = up.cli("rollout", "resume", "ops")
    assert resumed.returncode == 0 and "now Baking" in resumed.stdout, resumed.stderr
    promoted = up.cli("rollout", "promote", "ops")
    assert promoted.returncode == 0, promoted.stderr
    # The 1 h bake is skipped: the second wave is reached and becomes ready.
    second = up.plan("ops").waves[1].clusters
    up.rollout(
        "ops",
        sha,
        lambda r: r.wave == 1 and r.phase is Phase.BAKING,
        "the second wave baking after the promotion",
    )
    assert up.values("ops", second) == ["four"] * len(second)
    last = up.plan("ops").waves[2].clusters
    assert up.values("ops", last) == [before[clusters.index(c)] for c in last]
    aborted = up.cli("rollout", "abort", "ops")
    assert aborted.returncode == 0 and "now Aborted" in aborted.stdout, aborted.stderr
    wait_for(
        lambda: up.values("ops", clusters) == before,
        timeout=60,
        what="every reached cluster back on what it ran before",
    )
    assert "Aborted" in up.cli("rollout", "status", "ops").stdout


def test_a_wave_whose_workloads_never_become_ready_pauses_and_resume_retries_it(up: Up) -> None:
    clusters = APPS["stall"][0]
    for cluster in clusters[1:]:
        up.sim.cluster(cluster).set_controllers(enabled=True, never_ready=True)
    sha = up.commit("stall", "two")
    paused = up.rollout("stall", sha, lambda r: r.phase is Phase.PAUSED, "paused by failures")
    assert paused.wave == 1 and paused.paused_by == "failures"
    assert "not Synced and Healthy within progressDeadline 3s" in paused.reason
    failing = up.plan("stall").waves[1].clusters
    # Pause leaves every cluster where it is: the canary and the failed wave on the new
    # commit, the last wave never reached.
    (last,) = up.plan("stall").waves[2].clusters
    assert [up.value_on("stall", c) for c in ("stall-canary", *failing, last)] == [
        "two",
        "two",
        "one",
    ]
    shown = up.cli("rollout", "status", "stall")
    assert "failed, more than maxFailures 0" in shown.stdout, shown.stdout
    assert "failed" in shown.stdout and failing[0] in shown.stdout
    # Resume gives the failed clusters a new chance: a new deadline, which they miss again.
    resumed = up.cli("rollout", "resume", "stall")
    assert resumed.returncode == 0 and "now Progressing" in resumed.stdout, resumed.stderr
    again = up.rollout(
        "stall",
        sha,
        lambda r: r.phase is Phase.PAUSED and r.updated_at > paused.updated_at,
        "paused by failures again",
    )
    assert again.paused_by == "failures"
    progress = up.store.rollout_progress("stall")
    assert all(progress[c].verdict is Verdict.FAILED for c in failing)
    assert all(progress[c].released_at > paused.updated_at for c in failing)


def test_a_failing_wave_with_on_failure_rollback_returns_the_clusters_it_reached(up: Up) -> None:
    clusters = APPS["guard"][0]
    for cluster in clusters[1:]:
        up.sim.cluster(cluster).set_controllers(enabled=True, never_ready=True)
    sha = up.commit("guard", "two")
    up.rollout("guard", sha, lambda r: r.wave == 1, "the second wave reached")
    stopped = up.rollout("guard", sha, lambda r: r.phase is Phase.ROLLED_BACK, "rolled back")
    assert stopped.wave == 1 and "more than maxFailures 0" in stopped.reason
    wait_for(
        lambda: up.values("guard", clusters) == ["one"] * 3,
        timeout=60,
        what="the canary and the failed wave back on the previous revision",
    )
    shown = up.cli("rollout", "status", "guard")
    assert "RolledBack" in shown.stdout, shown.stdout


def test_the_rollout_carries_on_when_the_beat_and_the_apply_worker_are_killed(up: Up) -> None:
    clusters = APPS["steady"][0]
    sha = up.commit("steady", "two")
    baking = up.rollout("steady", sha, lambda r: r.phase is Phase.BAKING, "the canary baking")
    mark = len(up.proc.lines)
    killed = children(up.fleet_file)
    for role in ("beat", "apply"):
        os.kill(killed[role], signal.SIGKILL)
    for role in ("beat", "apply"):
        up.proc.wait_line(rf"{role} restarted \(pid \d+\)", timeout=60, after=mark)
    # The rollout's state was in Redis: the new beat takes it from where it was.
    up.rollout("steady", sha, lambda r: r.phase is Phase.COMPLETE, "complete after the restarts")
    up.wait_converged("steady", "two")
    done = up.store.rollout("steady")
    assert done is not None and done.id == baking.id
    progress = up.store.rollout_progress("steady")
    canary_ready = progress[ClusterName("steady-canary")].since
    assert canary_ready is not None
    assert min(progress[c].released_at for c in up.plan("steady").waves[1].clusters) >= (
        canary_ready + 4.0
    )
    assert up.values("steady", clusters) == ["two"] * len(clusters)


DENY = """\
windows:
  - name: change-freeze
    kind: deny
    schedule: "* * * * *"
    duration: 1h
    applications: [calm]
    manualSync: {manual}
"""


def test_a_deny_window_holds_changes_and_self_heal_reports_drift_and_says_why(up: Up) -> None:
    clusters = APPS["calm"][0]
    up.declare(DENY.format(manual="false"))
    try:
        sha = up.commit("calm", "two")
        held = up.wait_status(
            "calm",
            lambda s: "deny window 'change-freeze' is open until" in s.message,
            "the new commit held by the window",
        )
        assert all(sha[:12] not in str(s.revision) for s in held.values())
        assert up.values("calm", clusters) == ["one", "one"]
        # Drift is still detected and reported, not corrected (selfHeal is held too).
        up.edit_by_hand("calm", "calm-1", "edited")
        drifted = up.wait_status(
            "calm",
            lambda s: s.sync is SyncState.OUT_OF_SYNC and s.at > held["calm-1"].at,
            "the edit reported as drift",
            clusters=("calm-1",),
        )
        assert "deny window 'change-freeze'" in drifted["calm-1"].message
        assert up.value_on("calm", "calm-1") == "edited"
        refused = up.cli("sync", "calm")
        assert refused.returncode == 1
        assert "manual sync refused" in refused.stderr and "change-freeze" in refused.stderr
        # A window with manualSync: true lets the operator's sync through.
        up.declare(DENY.format(manual="true"))
        synced = up.cli("sync", "calm", "--cluster", "calm-1")
        assert synced.returncode == 0, synced.stderr
        wait_for(
            lambda: up.value_on("calm", "calm-1") == "two",
            timeout=60,
            what="the manual sync applying the held commit on calm-1",
        )
        assert up.value_on("calm", "calm-2") == "one"
    finally:
        up.declare("")


@dataclass(frozen=True)
class CanaryFailure:
    """A canary that fails at once, and what the rollout's reason says of it."""

    app: str
    path: str
    manifest: str
    says: tuple[str, ...]
    job_result: str | None = None
    """How kubesim's Jobs end on the canary (None: as they do elsewhere)."""


CANARY_FAILURES = {
    # A Job that fails turns the canary Degraded.
    "degraded": CanaryFailure(
        "vet", "apps/vet/check.yaml", CHECK_JOB, ("vet-canary: Degraded",), job_result="fail"
    ),
    # The API server refuses an object.
    "sync-failed": CanaryFailure(
        "strict",
        "apps/strict/service.yaml",
        REFUSED_SERVICE,
        ("strict-canary: sync failed", "core/Service/default/strict"),
    ),
}


@pytest.mark.parametrize("failure", CANARY_FAILURES.values(), ids=list(CANARY_FAILURES))
def test_a_canary_that_fails_stops_the_rollout_before_any_other_cluster(
    up: Up, failure: CanaryFailure
) -> None:
    app = failure.app
    canary, *rest = APPS[app][0]
    if failure.job_result is not None:
        up.sim.cluster(canary).set_controllers(
            enabled=True, ready_delay=0.2, job_result=failure.job_result
        )
    up.repo.write(failure.path, failure.manifest)
    sha = up.commit(app, "two")
    paused = up.rollout(app, sha, lambda r: r.phase is Phase.PAUSED, "paused by the canary")
    # The canary failed at once: no progress deadline (5 min) was waited for.
    assert paused.wave == 0 and paused.paused_by == "failures", paused
    assert "progressDeadline" not in paused.reason, paused.reason
    for words in failure.says:
        assert words in paused.reason, paused.reason
    assert set(up.store.rollout_progress(app)) == {canary}
    assert up.values(app, tuple(rest)) == ["one"] * len(rest)
    shown = up.cli("rollout", "status", app)
    assert canary in shown.stdout and "failed" in shown.stdout, shown.stdout


def test_max_parallel_reaches_a_wave_one_cluster_at_a_time(up: Up) -> None:
    sha = up.commit("drip", "two")
    up.rollout("drip", sha, lambda r: r.phase is Phase.COMPLETE, "every wave done")
    up.wait_converged("drip", "two")
    plan, progress = up.plan("drip"), up.store.rollout_progress("drip")
    second = sorted((progress[c] for c in plan.waves[1].clusters), key=lambda p: p.released_at)
    assert len(second) == 3
    # maxParallel 1: each cluster of the wave is reached only once the one before it is ready.
    for before, after in itertools.pairwise(second):
        assert before.since is not None and after.released_at >= before.since


def test_a_newer_commit_waits_for_a_pinned_rollout_which_carries_on_to_its_end(up: Up) -> None:
    clusters = APPS["hold"][0]
    two = up.commit("hold", "two")
    up.rollout("hold", two, lambda r: r.phase is Phase.BAKING, "the canary baking (1 h)")
    pinned = up.cli("rollout", "pin", "hold", "--reason", "canary under watch")
    assert pinned.returncode == 0, pinned.stderr
    assert f"hold: rollout of main@sha1:{two[:12]} pinned; now Baking" in pinned.stdout
    three = up.commit("hold", "three")
    waiting = up.rollout(
        "hold",
        two,
        lambda r: r.waiting is not None and r.waiting.revision.sha == three,
        "the newer commit waiting for the pinned rollout",
    )
    assert waiting.wave == 0 and waiting.pinned is not None
    assert waiting.pinned.reason == "canary under watch"
    # The newer commit is not anyone's desired state: no cluster gets it.
    desired = up.store.desired("hold")
    assert desired is not None and desired.revision.sha == two
    assert up.values("hold", clusters) == ["two", "one", "one", "one"]
    shown = up.cli("rollout", "status", "hold")
    assert shown.returncode == 0, shown.stderr
    assert "pinned by the operator" in shown.stdout and "canary under watch" in shown.stdout
    assert (
        f"waiting: main@sha1:{three[:12]} waits: the operator pinned the rollout of "
        f"main@sha1:{two[:12]}"
    ) in shown.stdout, shown.stdout
    status = up.cli("status", "hold")
    assert "(pinned)" in status.stdout and three[:12] in status.stdout, status.stdout

    # Every process of `up` restarts: the pin and what waits are in Redis with the rollout.
    mark = len(up.proc.lines)
    killed = children(up.fleet_file)
    for pid in killed.values():
        os.kill(pid, signal.SIGKILL)
    for role in killed:
        up.proc.wait_line(rf"{role} restarted \(pid \d+\)", timeout=60, after=mark)
    four = up.commit("hold", "four")
    up.rollout(
        "hold",
        two,
        lambda r: r.waiting is not None and r.waiting.revision.sha == four,
        "the newest commit waiting after the restarts",
    )
    assert up.values("hold", clusters) == ["two", "one", "one", "one"]

    # The pinned rollout carries on to its end (its hour-long bakes promoted)...
    assert up.cli("rollout", "promote", "hold").returncode == 0
    up.rollout("hold", two, lambda r: r.wave == 1 and r.phase is Phase.BAKING, "wave 2 baking")
    assert up.cli("rollout", "promote", "hold").returncode == 0
    # ...then the newest waiting commit starts its own rollout from wave 1, by itself.
    started = up.rollout("hold", four, lambda r: r.phase is Phase.BAKING, "four's canary baking")
    assert started.wave == 0 and started.pinned is None and started.waiting is None
    assert started.previous is not None and started.previous.sha == two
    assert up.values("hold", clusters) == ["four", "two", "two", "two"]

    # Pinned again, a newer commit waits; unpinned, it supersedes the rollout from wave 1.
    assert up.cli("rollout", "pin", "hold").returncode == 0
    five = up.commit("hold", "five")
    up.rollout(
        "hold",
        four,
        lambda r: r.waiting is not None and r.waiting.revision.sha == five,
        "five waiting for the pinned rollout of four",
    )
    unpinned = up.cli("rollout", "unpin", "hold")
    assert unpinned.returncode == 0, unpinned.stderr
    assert f"main@sha1:{five[:12]} is about to start its rollout" in unpinned.stdout
    again = up.rollout("hold", five, lambda r: r.phase is Phase.BAKING, "five's canary baking")
    assert again.wave == 0 and again.pinned is None
    assert up.values("hold", clusters) == ["five", "two", "two", "two"]
    refused = up.cli("rollout", "unpin", "hold")
    assert refused.returncode == 1 and "is not pinned; nothing to unpin" in refused.stderr


def held_at_the_second_wave(up: Up, app: str, sha: str, reason: str, what: str) -> Rollout:
    """Wait until `app`'s rollout of `sha` holds its second wave for `reason` (the start of
    the hold's words); the canary alone reached, the rollout's status saying why the others
    wait."""
    held = up.rollout(app, sha, lambda r: reason in r.reason, what)
    assert held.phase is Phase.PROGRESSING and held.wave == 1, held
    canary, *rest = APPS[app][0]
    assert set(up.store.rollout_progress(app)) == {canary}
    assert up.values(app, APPS[app][0]) == ["two"] + ["one"] * len(rest)
    shown = up.cli("rollout", "status", app)
    assert f"clusters wait: {reason}" in shown.stdout, shown.stdout
    return held


def released_after(up: Up, app: str, sha: str, at: float | None, what: str) -> None:
    """Wait until `app`'s rollout of `sha` completed and converged; its second wave reached
    no earlier than `at` (if given)."""
    up.rollout(app, sha, lambda r: r.phase is Phase.COMPLETE, what)
    up.wait_converged(app, "two")
    if at is not None:
        progress = up.store.rollout_progress(app)
        assert min(progress[c].released_at for c in up.plan(app).waves[1].clusters) >= at


def window_closing_at(name: str, app: str, close: float) -> str:
    """A deny window for `app` whose schedule fired this minute (UTC) and that closes at
    `close` (whole seconds): open now, closing seconds from now."""
    now = time.time()
    fired = now - now % 60
    at = datetime.fromtimestamp(fired, UTC)
    return (
        "windows:\n"
        f"  - name: {name}\n"
        "    kind: deny\n"
        f'    schedule: "{at.minute} {at.hour} * * *"\n'
        f"    duration: {math.ceil(close - fired)}\n"
        f"    applications: [{app}]\n"
    )


def test_a_deny_window_opening_while_the_canary_bakes_holds_the_next_wave_until_it_closes(
    up: Up,
) -> None:
    sha = up.commit("late", "two")
    baking = up.rollout("late", sha, lambda r: r.phase is Phase.BAKING, "the canary baking")
    assert baking.wave == 0 and baking.bake_started_at is not None
    # The window opens during the canary's 15 s bake and closes 10 s after the bake ends.
    close = math.ceil(baking.bake_started_at + 15 + 10)
    up.declare(window_closing_at("late-hold", "late", close))
    try:
        held_at_the_second_wave(
            up,
            "late",
            sha,
            "deny window 'late-hold' is open until",
            "the next wave held by the window",
        )
        # The window closes: the rollout goes on by itself, not before.
        released_after(up, "late", sha, close, "complete after the window")
    finally:
        up.declare("")


def allow_windows(app: str, close: float, reopen: float) -> str:
    """Allow windows for `app`: one whose schedule fired this minute (UTC) and that closes at
    `close`, one whose schedule fires at `reopen` (a minute's start)."""
    now = time.time()
    fired = now - now % 60
    first, again = datetime.fromtimestamp(fired, UTC), datetime.fromtimestamp(reopen, UTC)
    return (
        "windows:\n"
        f"  - name: {app}-now\n"
        "    kind: allow\n"
        f'    schedule: "{first.minute} {first.hour} * * *"\n'
        f"    duration: {math.ceil(close - fired)}\n"
        f"    applications: [{app}]\n"
        f"  - name: {app}-later\n"
        "    kind: allow\n"
        f'    schedule: "{again.minute} {again.hour} * * *"\n'
        "    duration: 1h\n"
        f"    applications: [{app}]\n"
    )


def test_an_allow_window_closing_while_the_canary_bakes_holds_the_next_wave_until_it_opens(
    up: Up,
) -> None:
    sha = up.commit("ring", "two")
    baking = up.rollout("ring", sha, lambda r: r.phase is Phase.BAKING, "the canary baking")
    assert baking.wave == 0 and baking.bake_started_at is not None
    # The allow window, open now, closes 6 s before the canary's 15 s bake ends; the next
    # opening is at the start of the first minute at least 3 s after the bake's end.
    baked = baking.bake_started_at + 15
    close = math.ceil(baked) - 6
    reopen = (baked + 3) - (baked + 3) % 60 + 60
    up.declare(allow_windows("ring", close, reopen))
    try:
        held_at_the_second_wave(
            up,
            "ring",
            sha,
            "outside the allow window 'ring-now', 'ring-later'",
            "the next wave held outside the allow windows",
        )
        # The window opens again by its schedule: the rollout goes on by itself, not before.
        released_after(up, "ring", sha, reopen, "complete once it opens")
    finally:
        up.declare("")


def test_a_freeze_while_the_canary_bakes_holds_the_next_wave_until_unfrozen(up: Up) -> None:
    sha = up.commit("thaw", "two")
    up.rollout("thaw", sha, lambda r: r.phase is Phase.BAKING, "the canary baking")
    frozen = up.cli("freeze", "--reason", "incident 9")
    assert frozen.returncode == 0, frozen.stderr
    try:
        held = held_at_the_second_wave(
            up, "thaw", sha, "the fleet is frozen", "the next wave frozen"
        )
        assert "incident 9" in held.reason
    finally:
        unfrozen = up.cli("unfreeze")
    assert unfrozen.returncode == 0, unfrozen.stderr
    released_after(up, "thaw", sha, None, "complete once unfrozen")
