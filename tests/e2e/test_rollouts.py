"""Progressive rollouts end to end: a commit reaches a canary wave, bakes, then the rest; a wave
whose clusters never become ready stops it (paused, or rolled back); clusters the rollout has not
reached keep the previous revision and are drift-checked against it. Real git over the network,
real Redis, real Celery workers, the beat's tick in a thread, kubesim clusters over HTTP (their
controllers told to never make a workload ready, to make a wave fail)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fleetsync.shared.model.rollout import Phase, Rollout
from fleetsync.shared.model.status import Health, SyncState
from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("canary-1", "c2", "c3", "c4", "c5")
NON_CANARY = CLUSTERS[1:]


def manifests(value: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: web-config}}
        data: {{value: "{value}"}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}, annotations: {{value: "{value}"}}}}
            spec: {{containers: [{{name: web, image: "nginx:1.27"}}]}}
        """)


def fleet_yaml(
    *, bake: str = "1s", deadline: str = "30s", on_failure: str = "pause"
) -> Callable[[str, Simulator], str]:
    def write(url: str, sim: Simulator) -> str:
        clusters = "\n".join(
            f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}, "
            f"labels: {{ring: {'canary' if c.startswith('canary') else 'main'}}}}}"
            for c in CLUSTERS
        )
        return textwrap.dedent("""\
            repositories:
              - {{name: platform, url: "{url}", ref: main, interval: 1s}}
            clusters:
            {clusters}
            applications:
              - name: web
                repository: platform
                path: apps/web
                namespace: default
                targets: {{selector: {{}}}}
                sync: {{driftInterval: 2s}}
                rollout:
                  waves:
                    - {{name: canary, selector: {{matchLabels: {{ring: canary}}}}}}
                    - {{name: half, percent: 50}}
                  bake: {bake}
                  progressDeadline: {deadline}
                  onFailure: {on_failure}
            """).format(
            url=url, clusters=clusters, bake=bake, deadline=deadline, on_failure=on_failure
        )

    return write


@pytest.fixture
def web_repo(git_repo: WorkRepo) -> WorkRepo:
    git_repo.write("apps/web/web.yaml", manifests("one"))
    git_repo.commit("one")
    return git_repo


@contextmanager
def start(
    redis_url: str, tmp_path: Path, git_server: GitServer, repo: WorkRepo, **options: str
) -> Iterator[Harness]:
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=repo,
        clusters=CLUSTERS,
        fleet_yaml=fleet_yaml(**options),
    ) as harness:
        harness.wait_synced_healthy("web", CLUSTERS)
        yield harness


def value_on(h: Harness, cluster: str) -> str:
    cm = h.live(cluster, "v1", "ConfigMap", "web-config", "default")
    assert cm is not None
    return str(cm["data"]["value"])


def rollout_of(h: Harness, sha: str, condition: Callable[[Rollout], bool], what: str) -> Rollout:
    def check() -> Rollout | None:
        r: Rollout | None = h.store.rollout("web")
        return r if r is not None and r.revision.sha == sha and condition(r) else None

    try:
        found: Rollout = wait_for(check, timeout=60, interval=0.1, what=what)
    except AssertionError as exc:
        progress = h.store.rollout_progress("web")
        raise AssertionError(
            f"{exc}; rollout {h.store.rollout('web')}; progress {progress}"
        ) from exc
    return found


def test_a_commit_reaches_the_canary_bakes_then_reaches_the_rest_in_waves(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(redis_url, tmp_path, git_server, web_repo, bake="4s") as h:
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        baking = rollout_of(h, sha, lambda r: r.phase is Phase.BAKING, "the canary wave baking")
        assert baking.wave == 0
        assert value_on(h, "canary-1") == "two"
        # Clusters the rollout has not reached keep the previous revision while the canary bakes.
        assert [value_on(h, c) for c in NON_CANARY] == ["one"] * len(NON_CANARY)
        held = h.status("web", "c2")
        assert held is not None and web_repo.head not in str(held.revision)
        rollout_of(h, sha, lambda r: r.phase is Phase.COMPLETE, "the rollout complete")
        h.wait_status(
            "web",
            CLUSTERS,
            lambda s: sha in str(s.revision) and s.health is Health.HEALTHY,
            "every cluster on the new commit",
        )
        assert [value_on(h, c) for c in CLUSTERS] == ["two"] * len(CLUSTERS)
        plan = h.store.rollout_plan("web")
        assert plan is not None and [len(w.clusters) for w in plan.waves] == [1, 2, 2]
        # The second wave started only after the canary baked.
        progress = h.store.rollout_progress("web")
        canary_ready = progress["canary-1"].since
        assert canary_ready is not None
        later = [progress[c].released_at for c in plan.waves[1].clusters]
        assert min(later) >= canary_ready + 4.0


def test_a_held_cluster_is_drift_checked_against_the_revision_it_keeps(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(redis_url, tmp_path, git_server, web_repo, bake="1h") as h:
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        rollout_of(h, sha, lambda r: r.phase is Phase.BAKING, "the canary wave baking")
        h.edit_by_hand("c3", "web-config", "default", {"value": "edited"})
        wait_for(lambda: value_on(h, "c3") == "one", timeout=30, what="c3 healed to its kept value")
        status = h.status("web", "c3")
        assert status is not None and status.sync is SyncState.SYNCED
        assert "held at" in status.message and "until the rollout of" in status.message


def test_a_wave_whose_clusters_never_become_ready_pauses_the_rollout(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(redis_url, tmp_path, git_server, web_repo, bake="1s", deadline="3s") as h:
        for cluster in NON_CANARY:
            h.sim.cluster(cluster).set_controllers(enabled=True, never_ready=True)
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        paused = rollout_of(h, sha, lambda r: r.phase is Phase.PAUSED, "the rollout paused")
        assert paused.wave == 1 and paused.paused_by == "failures"
        assert "failed, more than maxFailures 0" in paused.reason
        assert "not Synced and Healthy within progressDeadline 3s" in paused.reason
        plan = h.store.rollout_plan("web")
        assert plan is not None
        # Pause leaves every cluster where it is: the failing wave on the new revision, the
        # last wave never reached.
        assert [value_on(h, c) for c in plan.waves[1].clusters] == ["two", "two"]
        assert [value_on(h, c) for c in plan.waves[2].clusters] == ["one", "one"]


def test_a_wave_that_fails_with_on_failure_rollback_returns_the_rolled_clusters(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(
        redis_url, tmp_path, git_server, web_repo, bake="1s", deadline="3s", on_failure="rollback"
    ) as h:
        for cluster in NON_CANARY:
            h.sim.cluster(cluster).set_controllers(enabled=True, never_ready=True)
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        stopped = rollout_of(h, sha, lambda r: r.phase is Phase.ROLLED_BACK, "rolled back")
        assert stopped.wave == 1
        wait_for(
            lambda: all(value_on(h, c) == "one" for c in CLUSTERS),
            timeout=30,
            what="every cluster the rollout reached back on the previous revision",
        )
