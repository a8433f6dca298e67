"""Repositories as users write them, end to end through `fleetsync up`: real git over the
network, a real Redis, the real processes, a kubesim cluster and one of the session's real API
servers. Every application targets both clusters.

- a guestbook with a PreSync migration Job and a PostSync smoke test, on both clusters: on
  kubesim its simulated job controller completes the Jobs; on the real server (no kubelet, so no
  Job ends by itself) the test writes each Job's status as the job controller would;
- a Helm chart with a pre-install hook and a test hook (never applied);
- a Jsonnet application taking its image and its cluster's name (a cluster variable) from
  fleet.yaml's extVars, and one that is a top-level function taking its arguments from tlas and
  a library from libs;
- a directory mixing manifests with a Rancher Fleet fleet.yaml and a README.yaml: applied, and
  what was skipped is listed in the application's status; its tests/ left out by an exclude;
- a config-management plugin's directory, which no renderer reads: an error naming what the
  render found, never Synced;
- Argo CD's sync-waves example on both clusters (a Sync hook between waves, PostSync hooks after
  every object is healthy), and a PostDelete hook run once its application leaves fleet.yaml
  with pruneOnRemoval;
- bad input on kubesim, each with its error: a hook Job that fails and one that never completes
  (the sync names it and runs the SyncFail hook), an unknown hook phase, generateName on an
  ordinary object, a jsonnet syntax error, an import leaving the repository, a top-level
  function without its argument, an include glob that matches nothing.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store
from kubesim import Simulator
from tests.integration.kube.conftest import Operator
from tests.support.git_server import GitServer, WorkRepo
from tests.support.realk8s import RealClusters
from tests.support.up import Up, start_up, up_env
from tests.support.waiting import wait_for

SUFFIX = uuid.uuid4().hex[:6]
NS = f"guestbook-{SUFFIX}"
STAND_IN = "test-standing-in-for-the-job-controller"

GUESTBOOK = {
    "apps/guestbook/guestbook-ui-deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: guestbook-ui}
        spec:
          replicas: 0   # these clusters run no Pods: a Deployment of none is Healthy on both
          selector: {matchLabels: {app: guestbook-ui}}
          template:
            metadata: {labels: {app: guestbook-ui}}
            spec:
              containers:
                - {name: guestbook-ui, image: "gcr.io/heptio-images/ks-guestbook-demo:0.2"}
        """,
    "apps/guestbook/guestbook-ui-svc.yaml": """\
        apiVersion: v1
        kind: Service
        metadata: {name: guestbook-ui}
        spec: {ports: [{port: 80, targetPort: 80}], selector: {app: guestbook-ui}}
        """,
    "apps/guestbook/migrate-job.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: schema-migrate-
          annotations:
            argocd.argoproj.io/hook: PreSync
            argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: "example/migrate:1", command: [migrate, up]}]
        """,
    "apps/guestbook/smoke-test.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: smoke-test-
          annotations:
            argocd.argoproj.io/hook: PostSync
            argocd.argoproj.io/hook-delete-policy: HookSucceeded
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: curl, image: curlimages/curl, command: [curl, guestbook-ui]}]
        """,
}
CHART = {
    "apps/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
    "apps/db/values.yaml": "port: 5432\n",
    "apps/db/templates/service.yaml": """\
        apiVersion: v1
        kind: Service
        metadata: {name: {{ .Release.Name }}-db}
        spec: {ports: [{port: {{ .Values.port }}}]}
        """,
    "apps/db/templates/migrate.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ .Release.Name }}-migrate
          annotations:
            helm.sh/hook: pre-install,pre-upgrade
            helm.sh/hook-weight: "-5"
            helm.sh/hook-delete-policy: before-hook-creation
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: "example/db-migrate:1"}]
        """,
    "apps/db/templates/tests/test-connection.yaml": """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{ .Release.Name }}-test-connection
          annotations: {helm.sh/hook: test}
        spec:
          restartPolicy: Never
          containers: [{name: wget, image: busybox, command: [wget, "{{ .Release.Name }}-db"]}]
        """,
}
JSONNET = {
    "apps/jsonnet-guestbook/guestbook.jsonnet": """\
        local params = import 'params.libsonnet';
        [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: params.name + '-config' },
            data: {
              image: std.extVar('image'),
              replicas: std.toString(params.replicas),
              cluster: std.extVar('cluster'),
            },
          },
        ]
        """,
    "apps/jsonnet-guestbook/params.libsonnet": "{ name: 'jsonnet-guestbook', replicas: 2 }\n",
    # Argo CD's jsonnet-guestbook-tla style: a top-level function, a vendored library.
    "apps/jsonnet-tla/guestbook-ui.jsonnet": """\
        local labels = import 'labels.libsonnet';
        function(name='jsonnet-guestbook-ui', replicas=1, containerPort=80)
          [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: name, labels: labels.of(name) },
              data: { replicas: std.toString(replicas), port: std.toString(containerPort) },
            },
          ]
        """,
    "vendor/labels.libsonnet": "{ of(name):: { 'app.kubernetes.io/name': name } }\n",
}
MIXED = {
    "apps/mixed/fleet.yaml": """\
        defaultNamespace: mixed
        targetCustomizations:
          - name: prod
            clusterSelector: {matchLabels: {env: prod}}
        """,
    "apps/mixed/README.yaml": "title: mixed manifests\nowners: [platform-team]\n",
    "apps/mixed/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
    "apps/mixed/tests/smoke.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: smoke}\n",
}
PLUGIN = {
    "apps/plugin/plugin.yaml": "generator: cdk8s\nentrypoint: main.ts\n",
    "apps/plugin/main.ts": "new App().synth();\n",
}

SYNC_WAVES = {
    # Argo CD's sync-waves example as users copy it, but for ReplicaSets of none (these clusters
    # run no Pods) and the frontend Service in wave 2 (after the wave-1 Sync hook, not with it).
    "apps/sync-waves/manifests.yaml": """\
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: upgrade-sql-schema-
          annotations:
            argocd.argoproj.io/hook: PostSync
        spec:
          template:
            spec:
              containers:
                - {name: upgrade-sql-schema, image: "alpine:latest", command: [sleep, "10"]}
              restartPolicy: Never
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: backend}
        spec:
          replicas: 0
          selector: {matchLabels: {tier: backend}}
          template:
            metadata: {labels: {tier: backend}}
            spec: {containers: [{name: main, image: "nginx:latest"}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: backend-svc}
        spec:
          selector: {tier: backend}
          ports: [{protocol: TCP, port: 8080, targetPort: 8080}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: maintenance-page-up-
          annotations:
            argocd.argoproj.io/hook: Sync
            argocd.argoproj.io/sync-wave: "1"
        spec:
          template:
            spec:
              containers: [{name: page-up, image: "alpine:latest", command: [sleep, "10"]}]
              restartPolicy: Never
          backoffLimit: 0
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: frontend
          annotations:
            argocd.argoproj.io/sync-wave: "2"
        spec:
          selector: {tier: frontend}
          ports: [{protocol: TCP, port: 80, targetPort: 80}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: maintenance-page-down-
          annotations:
            argocd.argoproj.io/hook: PostSync
        spec:
          template:
            spec:
              containers: [{name: page-down, image: "alpine:latest", command: [sleep, "10"]}]
              restartPolicy: Never
        """,
}
CLEANUP = {
    "apps/cleanup/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
    "apps/cleanup/cleanup-job.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: cleanup-
          annotations:
            argocd.argoproj.io/hook: PostDelete
        spec:
          template:
            spec:
              containers: [{name: cleanup, image: "alpine:latest", command: [echo, bye]}]
              restartPolicy: Never
        """,
}


def fleet_text(
    url: str, *, sim: str, real: str, real_kubeconfig: Path, sim_kubeconfig: Path
) -> str:
    return textwrap.dedent(f"""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
          - {{name: {sim}, kubeconfig: {sim_kubeconfig}}}
          - {{name: {real}, kubeconfig: {real_kubeconfig}}}
        applications:
          - name: guestbook
            repository: platform
            path: apps/guestbook
            namespace: {NS}
            targets: {{clusters: [{sim}, {real}]}}
            sync: {{createNamespace: true, hookTimeout: 5m}}
          - name: db
            repository: platform
            path: apps/db
            namespace: db-{SUFFIX}
            targets: {{clusters: [{sim}, {real}]}}
            sync: {{createNamespace: true}}
          - name: jsonnet-guestbook
            repository: platform
            path: apps/jsonnet-guestbook
            namespace: jg-{SUFFIX}
            jsonnet:
              extVars:
                image: "gcr.io/heptio-images/ks-guestbook-demo:0.3"
                cluster: "${{cluster.name}}"
            targets: {{clusters: [{sim}, {real}]}}
            sync: {{createNamespace: true}}
          - name: jsonnet-tla
            repository: platform
            path: apps/jsonnet-tla
            namespace: jt-{SUFFIX}
            jsonnet:
              tlas: [{{name: replicas, value: "2", code: true}}, {{name: name, value: ui}}]
              libs: [vendor]
            targets: {{clusters: [{sim}, {real}]}}
            sync: {{createNamespace: true}}
          - name: mixed
            repository: platform
            path: apps/mixed
            namespace: mixed-{SUFFIX}
            directory: {{exclude: ["tests/*"]}}
            targets: {{clusters: [{sim}, {real}]}}
            sync: {{createNamespace: true}}
          - name: plugin
            repository: platform
            path: apps/plugin
            namespace: plugin-{SUFFIX}
            targets: {{clusters: [{sim}, {real}]}}
        """)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(clusters=["sim-1"], kubeconfig_dir=tmp_path / "kubeconfigs") as simulator:
        simulator.cluster("sim-1").set_controllers(enabled=True, ready_delay=0.3)
        yield simulator


def up_on(tmp_path: Path, redis_url: str, fleet: Path) -> Up:
    """`fleetsync up` on `fleet` and the test's Redis, without the API and Flower."""
    return start_up(fleet, up_env(tmp_path), redis_url=redis_url, api=False)


def commit(git_repo: WorkRepo, message: str, *trees: dict[str, str]) -> None:
    for files in trees:
        for path, text in files.items():
            git_repo.write(path, textwrap.dedent(text))
    git_repo.commit(message)


@pytest.fixture
def up(
    tmp_path: Path,
    redis_url: str,
    git_server: GitServer,
    git_repo: WorkRepo,
    sim: Simulator,
    real_clusters: RealClusters,
) -> Iterator[Up]:
    commit(
        git_repo,
        "guestbook, a chart, jsonnet, mixed manifests and a plugin's directory",
        GUESTBOOK,
        CHART,
        JSONNET,
        MIXED,
        PLUGIN,
    )
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        fleet_text(
            url,
            sim="sim-1",
            real=real_clusters.names[0],
            real_kubeconfig=real_clusters.kubeconfig(0),
            sim_kubeconfig=sim.kubeconfig_path("sim-1"),
        )
    )
    with up_on(tmp_path, redis_url, fleet) as running:
        yield running


def operator_of(real_clusters: RealClusters) -> Operator:
    config = yaml.safe_load(real_clusters.kubeconfig(0).read_text())
    server = config["clusters"][0]["cluster"]
    return Operator(
        server["server"],
        config["users"][0]["user"]["token"],
        server.get("certificate-authority-data"),
    )


def finish_job(operator: Operator, ns: str, name: str) -> None:
    """End a Job as the job controller does once its Pod succeeded (no kubelet runs it here)."""
    now = "2026-01-01T00:00:00Z"
    condition = {
        "type": "Complete",
        "status": "True",
        "reason": "CompletionsReached",
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }
    operator.request(
        "PATCH",
        f"/apis/batch/v1/namespaces/{ns}/jobs/{name}/status",
        {
            "status": {
                "startTime": now,
                "completionTime": now,
                "succeeded": 1,
                "conditions": [condition],
            }
        },
        content_type="application/merge-patch+json",
        fieldManager=STAND_IN,
    )


def sim_object(sim: Simulator, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    return next(
        (
            o
            for o in sim.cluster("sim-1").objects()
            if o.get("kind") == kind
            and o["metadata"]["name"] == name
            and o["metadata"].get("namespace") == ns
        ),
        None,
    )


def test_repositories_as_users_write_them_through_fleetsync_up(
    up: Up, redis_url: str, real_clusters: RealClusters, sim: Simulator
) -> None:
    store = Store.connect(redis_url)
    real = real_clusters.names[0]
    operator = operator_of(real_clusters)

    def status(app: str, cluster: str) -> PairStatus | None:
        found: PairStatus | None = store.status(app, cluster)
        return found

    def settled(app: str, cluster: str) -> PairStatus | None:
        s = status(app, cluster)
        done = s is not None and s.sync is SyncState.SYNCED and s.health is Health.HEALTHY
        return s if done and not s.message.startswith("waiting") else None

    def logs() -> str:
        return up.output()[-3000:]

    # The real server: PreSync first, nothing else applied; the test ends the migration Job.
    presync = wait_for(
        lambda: (s := status("guestbook", real)) and s.hooks and s.hooks[0].name and s,
        timeout=120,
        what=f"the PreSync hook on {real}\n{logs()}",
    )
    migrate = presync.hooks[0]
    assert (migrate.phase, migrate.state) == ("PreSync", "Running")
    assert migrate.logs == f"kubectl logs job/{migrate.name} -n {NS}"
    assert operator.get(f"/api/v1/namespaces/{NS}/services/guestbook-ui") is None
    finish_job(operator, NS, migrate.name)
    postsync = wait_for(
        lambda: (
            (s := status("guestbook", real))
            and any(h.phase == "PostSync" and h.name for h in s.hooks)
            and s
        ),
        timeout=60,
        what="the PostSync smoke test, once every object is healthy",
    )
    assert operator.get(f"/api/v1/namespaces/{NS}/services/guestbook-ui") is not None
    smoke = next(h for h in postsync.hooks if h.phase == "PostSync")
    finish_job(operator, NS, smoke.name)
    done = wait_for(lambda: settled("guestbook", real), timeout=60, what="guestbook on real")
    assert [(h.phase, h.state) for h in done.hooks] == [
        ("PreSync", "Succeeded"),
        ("PostSync", "Succeeded"),
    ]
    assert operator.get(f"/apis/batch/v1/namespaces/{NS}/jobs/{smoke.name}") is None

    # kubesim: its job controller completes the hooks by itself.
    on_sim = wait_for(lambda: settled("guestbook", "sim-1"), timeout=60, what="guestbook on sim")
    assert [(h.phase, h.state) for h in on_sim.hooks] == [
        ("PreSync", "Succeeded"),
        ("PostSync", "Succeeded"),
    ]

    chart = wait_for(lambda: settled("db", "sim-1"), timeout=60, what=f"the chart\n{logs()}")
    assert [(h.phase, h.key, h.state) for h in chart.hooks] == [
        ("PreSync", f"batch/Job/db-{SUFFIX}/db-migrate", "Succeeded")
    ]
    assert sim_object(sim, "Pod", "db-test-connection", f"db-{SUFFIX}") is None
    desired = store.desired("db")
    assert desired is not None and any("Helm test hook (test)" in w for w in desired.warnings)

    wait_for(lambda: settled("jsonnet-guestbook", "sim-1"), timeout=60, what="jsonnet app")
    config = sim_object(sim, "ConfigMap", "jsonnet-guestbook-config", f"jg-{SUFFIX}")
    assert config is not None and config["data"]["image"].endswith(":0.3")
    assert config["data"]["cluster"] == "sim-1", "an extVar reading the cluster's name"

    wait_for(lambda: settled("jsonnet-tla", "sim-1"), timeout=60, what="jsonnet with tlas")
    ui = sim_object(sim, "ConfigMap", "ui", f"jt-{SUFFIX}")
    assert ui is not None and ui["data"] == {"replicas": "2", "port": "80"}
    assert ui["metadata"]["labels"]["app.kubernetes.io/name"] == "ui"

    wait_for(lambda: settled("mixed", "sim-1"), timeout=60, what="mixed manifests")
    assert sim_object(sim, "Pod", "smoke", f"mixed-{SUFFIX}") is None, "excluded by its glob"
    mixed = store.desired("mixed")
    assert mixed is not None and mixed.warnings == (
        "apps/mixed/README.yaml: not a Kubernetes object (no apiVersion or kind): skipped",
        "apps/mixed/fleet.yaml: not a Kubernetes object (no apiVersion or kind): skipped",
    )

    error = wait_for(lambda: store.source_error("plugin"), timeout=60, what="the plugin's error")
    assert error.message == (
        "plugin: apps/plugin: plain: 2 files, none with a Kubernetes object: main.ts, "
        "plugin.yaml; nothing to apply (set sync.allowEmpty: true if the application is empty "
        "on purpose, or choose its renderer)"
    )
    plugin = status("plugin", "sim-1")
    assert plugin is None or plugin.sync is not SyncState.SYNCED

    # The same applications on the real server; the test ends the chart's pre-install Job.
    db = f"db-{SUFFIX}"
    wait_for(
        lambda: (s := status("db", real)) and any(h.name == "db-migrate" for h in s.hooks),
        timeout=60,
        what=f"the chart's pre-install hook on {real}",
    )
    assert operator.get(f"/api/v1/namespaces/{db}/services/db-db") is None
    finish_job(operator, db, "db-migrate")
    wait_for(lambda: settled("db", real), timeout=60, what="the chart on real")
    assert operator.get(f"/api/v1/namespaces/{db}/services/db-db") is not None
    assert operator.get(f"/api/v1/namespaces/{db}/pods/db-test-connection") is None
    for app, path, expected in (
        ("jsonnet-guestbook", f"jg-{SUFFIX}/configmaps/jsonnet-guestbook-config", "image"),
        ("jsonnet-tla", f"jt-{SUFFIX}/configmaps/ui", "replicas"),
        ("mixed", f"mixed-{SUFFIX}/configmaps/settings", None),
    ):
        wait_for(lambda app=app: settled(app, real), timeout=60, what=f"{app} on real")
        found = operator.get(f"/api/v1/namespaces/{path}")
        assert found is not None and (expected is None or expected in found["data"])
        if app == "jsonnet-guestbook":
            assert found["data"]["cluster"] == real
    assert operator.get(f"/api/v1/namespaces/mixed-{SUFFIX}/pods/smoke") is None
    plugin = status("plugin", real)
    assert plugin is None or plugin.sync is not SyncState.SYNCED


def hooks_fleet(
    url: str, *, sim: Simulator, real_clusters: RealClusters, with_cleanup: bool = True
) -> str:
    real = real_clusters.names[0]
    text = f"""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
          - {{name: sim-1, kubeconfig: {sim.kubeconfig_path("sim-1")}}}
          - {{name: {real}, kubeconfig: {real_clusters.kubeconfig(0)}}}
        applications:
          - name: sync-waves
            repository: platform
            path: apps/sync-waves
            namespace: sw-{SUFFIX}
            targets: {{clusters: [sim-1, {real}]}}
            sync: {{createNamespace: true}}
        """
    if with_cleanup:
        text = (
            text.rstrip(" ")
            + f"""\
          - name: cleanup
            repository: platform
            path: apps/cleanup
            namespace: cleanup-{SUFFIX}
            targets: {{clusters: [sim-1]}}
            sync: {{createNamespace: true, pruneOnRemoval: true}}
        """
        )
    return textwrap.dedent(text)


def test_argo_cd_sync_waves_and_a_post_delete_hook_through_fleetsync_up(
    tmp_path: Path,
    redis_url: str,
    git_server: GitServer,
    git_repo: WorkRepo,
    sim: Simulator,
    real_clusters: RealClusters,
) -> None:
    commit(git_repo, "Argo CD's sync-waves example and a PostDelete cleanup", SYNC_WAVES, CLEANUP)
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(hooks_fleet(url, sim=sim, real_clusters=real_clusters))
    store = Store.connect(redis_url)
    real = real_clusters.names[0]
    operator = operator_of(real_clusters)
    ns = f"sw-{SUFFIX}"
    proc = up_on(tmp_path, redis_url, fleet)
    try:

        def status(app: str, cluster: str) -> PairStatus | None:
            found: PairStatus | None = store.status(app, cluster)
            return found

        def named(phase: str) -> PairStatus | None:
            s = status("sync-waves", real)
            return (
                s if s is not None and any(h.phase == phase and h.name for h in s.hooks) else None
            )

        def settled(app: str, cluster: str) -> PairStatus | None:
            s = status(app, cluster)
            done = s is not None and s.sync is SyncState.SYNCED and s.health is Health.HEALTHY
            return s if done and not s.message.startswith("waiting") else None

        # The real server: wave 0, then the Sync hook of wave 1, then wave 2, then PostSync.
        up = wait_for(lambda: named("Sync"), timeout=120, what=f"the Sync hook on {real}")
        page_up = next(h for h in up.hooks if h.phase == "Sync")
        assert page_up.state == "Running" and page_up.name.startswith("maintenance-page-up-")
        assert up.message.startswith(f"waiting for Sync hooks: batch/Job/{ns}/{page_up.name}")
        assert operator.get(f"/apis/apps/v1/namespaces/{ns}/replicasets/backend") is not None
        assert operator.get(f"/api/v1/namespaces/{ns}/services/frontend") is None
        finish_job(operator, ns, page_up.name)
        post = wait_for(lambda: named("PostSync"), timeout=60, what="the PostSync hooks")
        assert operator.get(f"/api/v1/namespaces/{ns}/services/frontend") is not None
        for hook in post.hooks:
            if hook.phase == "PostSync":
                finish_job(operator, ns, hook.name)
        done = wait_for(lambda: settled("sync-waves", real), timeout=60, what="sync-waves, real")
        assert sorted((h.phase, h.key.rpartition("/")[2], h.state) for h in done.hooks) == [
            ("PostSync", "maintenance-page-down-", "Succeeded"),
            ("PostSync", "upgrade-sql-schema-", "Succeeded"),
            ("Sync", "maintenance-page-up-", "Succeeded"),
        ]

        # kubesim: its job controller ends the Jobs.
        on_sim = wait_for(lambda: settled("sync-waves", "sim-1"), timeout=60, what="on sim")
        assert {h.phase for h in on_sim.hooks} == {"Sync", "PostSync"}

        # PostDelete: the application leaves fleet.yaml with pruneOnRemoval.
        wait_for(lambda: settled("cleanup", "sim-1"), timeout=60, what="cleanup on sim")
        cleanup_ns = f"cleanup-{SUFFIX}"
        assert sim_object(sim, "ConfigMap", "settings", cleanup_ns) is not None
        fleet.write_text(hooks_fleet(url, sim=sim, real_clusters=real_clusters, with_cleanup=False))

        def post_delete() -> list[dict[str, Any]]:
            return [
                o
                for o in sim.cluster("sim-1").objects()
                if o.get("kind") == "Job" and o["metadata"].get("namespace") == cleanup_ns
            ]

        (job,) = wait_for(post_delete, timeout=60, what="the PostDelete hook")
        assert job["metadata"]["name"].startswith("cleanup-")
        assert sim_object(sim, "ConfigMap", "settings", cleanup_ns) is None
    finally:
        proc.stop()


BAD = {
    "apps/failing-hook/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n",
    "apps/failing-hook/migrate.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: migrate-
          annotations: {argocd.argoproj.io/hook: PreSync}
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: "example/migrate:1"}]
        """,
    "apps/failing-hook/page.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: page-oncall-
          annotations: {argocd.argoproj.io/hook: SyncFail}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: page, image: "example/pager:1"}]
        """,
    "apps/bad-phase/job.yaml": """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: migrate-
          annotations: {argocd.argoproj.io/hook: BeforeSync}
        """,
    "apps/generate-name/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\n",
    "apps/bad-jsonnet/main.jsonnet": """\
        {
          apiVersion: 'v1',
          kind: 'ConfigMap'
          metadata: {}
        }
        """,
    "apps/escape/main.jsonnet": "import '../../../etc/passwd.libsonnet'\n",
    "apps/missing-tla/main.jsonnet": """\
        function(replicas) { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }
        """,
    "apps/no-match/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
}


SOURCE_ERRORS = [
    # (application, its error, or how its error starts; whether that is the whole error)
    (
        "bad-phase",
        "bad-phase: apps/bad-phase/job.yaml:1: annotation argocd.argoproj.io/hook: unknown "
        "hook phase 'BeforeSync'; use PreSync, Sync, PostSync, SyncFail, PostDelete or Skip",
        False,
    ),
    (
        "generate-name",
        "generate-name: apps/generate-name/cm.yaml:1: metadata.generateName 'c-' on an "
        "object that is not a hook",
        False,
    ),
    ("bad-jsonnet", "bad-jsonnet: apps/bad-jsonnet/main.jsonnet:4", False),
    (
        "escape",
        "escape: apps/escape: import '../../../etc/passwd.libsonnet': "
        "'../../../etc/passwd.libsonnet' is outside the repository",
        True,
    ),
    (
        "missing-tla",
        "missing-tla: apps/missing-tla/main.jsonnet: top-level function needs argument "
        "replicas: give it in fleet.yaml under jsonnet.tlas",
        False,
    ),
    ("no-match", "no-match: apps/no-match: directory.include '*.yml' matches no file", False),
]
"""The applications of BAD whose render fails: each names its file and what to do."""


def bad_fleet(url: str, sim: Simulator) -> str:
    def app(name: str, extra: str = "") -> str:
        return (
            f"  - {{name: {name}, repository: platform, path: apps/{name}, "
            f"namespace: bad-{SUFFIX}, targets: {{clusters: [sim-1]}}, "
            f"sync: {{createNamespace: true}}{extra}}}\n"
        )

    return (
        f'repositories:\n  - {{name: platform, url: "{url}", ref: main, interval: 1s}}\n'
        f"clusters:\n  - {{name: sim-1, kubeconfig: {sim.kubeconfig_path('sim-1')}}}\n"
        f"  - {{name: sim-2, kubeconfig: {sim.kubeconfig_path('sim-2')}}}\n"
        "applications:\n"
        f"  - {{name: stuck-hook, repository: platform, path: apps/failing-hook, "
        f"namespace: bad-{SUFFIX}, targets: {{clusters: [sim-2]}}, "
        "sync: {createNamespace: true, hookTimeout: 3s}}\n"
        + app("failing-hook")
        + app("bad-phase")
        + app("generate-name")
        + app("bad-jsonnet")
        + app("escape")
        + app("missing-tla")
        + app("no-match", ", directory: {include: ['*.yml']}")
    )


def test_bad_input_through_fleetsync_up_gets_clear_errors(
    tmp_path: Path, redis_url: str, git_server: GitServer, git_repo: WorkRepo, sim: Simulator
) -> None:
    sim.cluster("sim-1").set_controllers(enabled=True, ready_delay=0.3, job_result="fail")
    sim.add_cluster("sim-2").set_controllers(enabled=True, ready_delay=0.3, job_result="run")
    commit(git_repo, "hooks and renders gone wrong", BAD)
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(bad_fleet(url, sim))
    store = Store.connect(redis_url)
    proc = up_on(tmp_path, redis_url, fleet)
    try:

        def failed() -> PairStatus | None:
            s: PairStatus | None = store.status("failing-hook", "sim-1")
            return s if s is not None and "hook failed" in s.message else None

        hook = wait_for(failed, timeout=90, what="the failed PreSync hook")
        (migrate, page) = hook.hooks
        assert hook.sync is SyncState.OUT_OF_SYNC
        assert hook.error_object == f"batch/Job/bad-{SUFFIX}/{migrate.name}"
        assert hook.message.startswith(
            f"batch/Job/bad-{SUFFIX}/{migrate.name}: PreSync hook failed (Job has reached the "
            f"specified backoff limit; kubectl logs job/{migrate.name} -n bad-{SUFFIX}): sync "
            f"failed; SyncFail hooks: SyncFail hook batch/Job/bad-{SUFFIX}/{page.name}"
        )
        assert sim_object(sim, "ConfigMap", "s", f"bad-{SUFFIX}") is None

        def stuck() -> PairStatus | None:
            s: PairStatus | None = store.status("stuck-hook", "sim-2")
            return s if s is not None and "hook failed" in s.message else None

        late = wait_for(stuck, timeout=90, what="the PreSync hook past its deadline")
        (migrate, page) = late.hooks
        assert late.message.startswith(
            f"batch/Job/bad-{SUFFIX}/{migrate.name}: PreSync hook failed (did not complete "
            f"within 3s (sync.hookTimeout): job is running; kubectl logs job/{migrate.name} -n "
            f"bad-{SUFFIX}): sync failed; SyncFail hooks: SyncFail hook "
            f"batch/Job/bad-{SUFFIX}/{page.name}"
        )

        for app, expected, whole in SOURCE_ERRORS:
            found = wait_for(
                lambda app=app: store.source_error(app), timeout=60, what=f"{app}'s error"
            )
            message = str(found.message)
            assert (message == expected) if whole else message.startswith(expected), message
            s = store.status(app, "sim-1")
            assert s is None or s.sync is not SyncState.SYNCED, app
    finally:
        proc.stop()
