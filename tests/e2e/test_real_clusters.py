"""The GitOps loop end to end on the session's two real API servers: a commit creates the
application's namespace, applies its sync waves one after the other (the reconcile that stopped
before a wave is continued by the workers, not by a worker waiting), leaves a respelled quantity
alone on every drift check, and heals an edit made by hand. Real git over the network, real
Redis, real Celery workers; the clusters run no Pods (no kubelet), so the LoadBalancer Service of
wave 0 is the object whose health the test decides, as a cloud controller would."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsync.shared.model.status import ChangeAction, SyncState
from fleetsync.shared.model.trigger import Trigger
from tests.integration.kube.conftest import Operator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.realk8s import RealClusters
from tests.support.waiting import wait_for

SUFFIX = uuid.uuid4().hex[:8]
APP = f"waves-{SUFFIX}"
NS = f"waves-{SUFFIX}"

EDGE = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {name: edge, annotations: {fleetsync.io/sync-wave: "0"}}
    spec: {type: LoadBalancer, ports: [{port: 80}]}
    """)
SETTINGS = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings, annotations: {fleetsync.io/sync-wave: "1"}}
    data: {mode: fast}
    """)
API = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api, annotations: {fleetsync.io/sync-wave: "1"}}
    spec:
      replicas: 1
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec:
          containers:
            - name: api
              image: example/api:1
              resources: {requests: {cpu: 2000m, memory: 1Gi}}
    """)


def fleet_text(url: str, real_clusters: RealClusters, *, drift: str) -> str:
    clusters = "\n".join(
        f"  - {{name: {name}, kubeconfig: {kubeconfig}}}"
        for name, kubeconfig in zip(real_clusters.names, real_clusters.kubeconfigs, strict=True)
    )
    return textwrap.dedent("""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1s}}
        clusters:
        {clusters}
        applications:
          - name: {app}
            repository: platform
            path: apps/web
            namespace: {ns}
            targets: {{clusters: [{names}]}}
            sync: {{createNamespace: true, driftInterval: {drift}, waveTimeout: 5m}}
        """).format(
        url=url,
        clusters=clusters,
        app=APP,
        ns=NS,
        names=", ".join(real_clusters.names),
        drift=drift,
    )


@pytest.fixture
def operators(real_clusters: RealClusters) -> dict[str, Operator]:
    found = {}
    for name, kubeconfig in zip(real_clusters.names, real_clusters.kubeconfigs, strict=True):
        config = yaml.safe_load(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]
        found[name] = Operator(
            server["server"],
            config["users"][0]["user"]["token"],
            server.get("certificate-authority-data"),
        )
    return found


@pytest.fixture
def fleet(
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    git_repo: WorkRepo,
    real_clusters: RealClusters,
) -> Iterator[Harness]:
    git_repo.write("apps/web/edge.yaml", EDGE)
    git_repo.write("apps/web/settings.yaml", SETTINGS)
    git_repo.write("apps/web/api.yaml", API)
    git_repo.commit("web, in two waves")

    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=(),
        fleet_yaml=lambda url, _: fleet_text(url, real_clusters, drift="1h"),
    ) as harness:
        yield harness


def test_waves_namespace_quantities_and_self_heal_on_real_clusters(
    fleet: Harness, operators: dict[str, Operator], real_clusters: RealClusters
) -> None:
    clusters = sorted(operators)
    waiting = fleet.wait_status(
        APP,
        clusters,
        lambda s: s.message.startswith("waiting for wave 1: "),
        "stopped before wave 1",
    )
    for name, status in waiting.items():
        assert status.sync is SyncState.OUT_OF_SYNC
        assert f"core/Service/{NS}/edge: Progressing" in status.message
        assert operators[name].get(f"/api/v1/namespaces/{NS}/configmaps/settings") is None
        namespace = operators[name].get(f"/api/v1/namespaces/{NS}")
        assert namespace is not None
        assert namespace["metadata"]["annotations"]["fleetsync.io/created-for"] == APP

    for operator in operators.values():
        operator.merge_patch(
            f"/api/v1/namespaces/{NS}/services/edge/status",
            {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
        )

    fleet.wait_status(
        APP,
        clusters,
        lambda s: s.sync is SyncState.SYNCED,
        "wave 1 applied by the reconcile continued after wave 0 (drift checks are an hour away)",
    )
    for operator in operators.values():
        api = operator.get(f"/apis/apps/v1/namespaces/{NS}/deployments/api")
        assert api is not None
        resources = api["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources["requests"] == {"cpu": "2", "memory": "1Gi"}

    fleet.write_fleet(fleet_text(fleet.git_url, real_clusters, drift="1s"))

    def quiet_drift_checks() -> dict[str, Any] | None:
        seen = {c: fleet.status(APP, c) for c in clusters}
        if all(
            s is not None
            and s.trigger is Trigger.DRIFT
            and s.sync is SyncState.SYNCED
            and {c.action for c in s.changes} == {ChangeAction.UNCHANGED}
            for s in seen.values()
        ):
            return seen
        return None

    wait_for(quiet_drift_checks, timeout=60, what="drift checks that find nothing to write")

    edited = clusters[0]
    operators[edited].merge_patch(
        f"/api/v1/namespaces/{NS}/configmaps/settings", {"data": {"mode": "slow"}}
    )
    wait_for(
        lambda: (
            (operators[edited].get(f"/api/v1/namespaces/{NS}/configmaps/settings") or {})
            .get("data", {})
            .get("mode")
            == "fast"
        ),
        timeout=60,
        what="the edit by hand to be healed",
    )
