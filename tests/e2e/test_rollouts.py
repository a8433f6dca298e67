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
from click.testing import CliRunner, Result

from fleetsync.scheduler.cli import main
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
        # Pause leaves every cluster where it is: the failing wave on the new revision (a
        # reconcile of it that was under way when the first cluster failed still ends), the
        # last wave never reached.
        wait_for(
            lambda: [value_on(h, c) for c in plan.waves[1].clusters] == ["two", "two"],
            timeout=30,
            what="the failing wave's clusters on the new revision",
        )
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


def cli(h: Harness, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--redis-url", h.runtime.settings.redis_url])


def test_an_operator_follows_promotes_pauses_and_aborts_a_rollout_from_the_cli(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(redis_url, tmp_path, git_server, web_repo, bake="1h") as h:
        none = cli(h, "rollout", "promote", "web")
        assert none.exit_code != 0 and "web: no rollout in progress" in none.output
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        rollout_of(h, sha, lambda r: r.phase is Phase.BAKING, "the canary wave baking")
        shown = cli(h, "rollout", "status", "web")
        assert shown.exit_code == 0, shown.output
        assert "Baking: wave 1/3 'canary' baking" in shown.output
        assert "remaining" in shown.output
        status = cli(h, "status", "web")
        assert "wave 1/3 'canary' baking" in status.output
        assert cli(h, "rollout", "promote", "web").exit_code == 0
        rollout_of(h, sha, lambda r: r.wave >= 1, "the second wave after the promotion")
        paused = cli(h, "rollout", "pause", "web")
        assert paused.exit_code == 0 and "now Paused" in paused.output
        refused = cli(h, "rollout", "promote", "web")
        assert refused.exit_code != 0 and "resume it before promoting" in refused.output
        assert cli(h, "rollout", "abort", "web").exit_code == 0
        wait_for(
            lambda: all(value_on(h, c) == "one" for c in CLUSTERS),
            timeout=30,
            what="every cluster back on the previous revision after the abort",
        )
        assert "Aborted" in cli(h, "rollout", "status", "web").output


def test_a_freeze_holds_the_rollout_and_manual_syncs_until_unfrozen(
    redis_url: str, tmp_path: Path, git_server: GitServer, web_repo: WorkRepo
) -> None:
    with start(redis_url, tmp_path, git_server, web_repo, bake="1s") as h:
        frozen = cli(h, "freeze", "--reason", "incident 42")
        assert frozen.exit_code == 0 and "fleet frozen: incident 42" in frozen.output
        sha = h.commit("two", {"apps/web/web.yaml": manifests("two")})
        held = rollout_of(h, sha, lambda r: "clusters wait" in r.reason, "the rollout waiting")
        assert "the fleet is frozen" in held.reason and "incident 42" in held.reason
        sync = cli(h, "sync", "web", "--cluster", "canary-1")
        assert sync.exit_code != 0 and "manual sync refused" in sync.output
        assert "frozen" in cli(h, "status").output
        assert value_on(h, "canary-1") == "one"
        assert cli(h, "unfreeze").exit_code == 0
        rollout_of(h, sha, lambda r: r.phase is Phase.COMPLETE, "the rollout complete")


DEPS = """\
repositories:
  - {{name: platform, url: "{url}", ref: main, interval: 1s}}
clusters:
  - {{name: c1, kubeconfig: {kubeconfig}}}
applications:
  - {{name: db, repository: platform, path: apps/db, namespace: default,
     targets: {{clusters: [c1]}}}}
  - name: web
    repository: platform
    path: apps/web
    namespace: default
    targets: {{clusters: [c1]}}
    dependsOn: [db]
"""


def test_an_application_waits_until_what_it_depends_on_is_synced_and_healthy(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    git_repo.write("apps/db/db.yaml", manifests("db").replace("web", "db"))
    git_repo.write("apps/web/web.yaml", manifests("one"))
    git_repo.commit("db and web")
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=("c1",),
        fleet_yaml=lambda url, sim: DEPS.format(url=url, kubeconfig=sim.kubeconfig_path("c1")),
    ) as h:
        h.sim.cluster("c1").set_controllers(enabled=True, never_ready=True)
        h.wait_status(
            "web",
            ["c1"],
            lambda s: "waiting for db on c1: it is Synced/Progressing" in s.message,
            "web waiting for db",
        )
        assert h.live("c1", "v1", "ConfigMap", "web-config", "default") is None
        h.sim.cluster("c1").set_controllers(enabled=True, ready_delay=0.1)
        # A new commit of db gives its Deployment a new generation, which now becomes ready.
        h.commit("db two", {"apps/db/db.yaml": manifests("db2").replace("web", "db")})
        h.wait_synced_healthy("web", ["c1"], "web applied once db is Healthy")
        assert value_on(h, "c1") == "one"
