"""The `web` application that the GitOps-loop and watch tests deploy (apps/web in the repository:
its namespace, a Deployment of two replicas and two ConfigMaps), and the steps those tests share:
running it on a fleet whose drift only a watch notices, changing its objects by hand on a
cluster, and waiting until fleetsync has put them back."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.waiting import wait_for

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
            - name: web
              image: nginx:1.27
              ports: [{containerPort: 80}]
    """)

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"


def commit_web(repo: WorkRepo) -> WorkRepo:
    """apps/web committed: the namespace, the Deployment, web-config ("1") and web-extra."""
    repo.write("apps/web/namespace.yaml", NAMESPACE)
    repo.write("apps/web/deployment.yaml", DEPLOYMENT)
    repo.write("apps/web/config.yaml", configmap("web-config", "1"))
    repo.write("apps/web/extra.yaml", configmap("web-extra", "x"))
    repo.commit("web")
    return repo


def watched_fleet_yaml(url: str, sim: Simulator) -> str:
    """fleet.yaml of `watched_web_fleet`: every cluster labelled env: prod, `web` self-healing
    on them with an hour's drift interval and an hour's poll."""
    clusters = "".join(
        f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}, labels: {{env: prod}}}}\n"
        for c in sim.names
    )
    return textwrap.dedent("""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1h}}
        clusters:
        {clusters}applications:
          - name: web
            repository: platform
            path: apps/web
            namespace: web
            targets: {{selector: {{matchLabels: {{env: prod}}}}}}
            sync: {{selfHeal: true, driftInterval: 1h}}
        """).format(url=url, clusters=clusters)


@contextmanager
def watched_web_fleet(
    *,
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    repo: WorkRepo,
    clusters: Sequence[str],
) -> Iterator[Harness]:
    """`web` (committed to `repo` here) running on `clusters` for the tests of `fleetsync
    watch`: its drift interval is an hour, so every heal such a test sees was started by a
    watch, never by the interval backstop (without a watcher the test times out)."""
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=commit_web(repo),
        clusters=clusters,
        fleet_yaml=watched_fleet_yaml,
    ) as harness:
        yield harness


def edit_and_delete_by_hand(fleet: Harness, cluster: str) -> None:
    """web-config edited (`kubectl edit`) and web-extra deleted on `cluster`."""
    fleet.edit_by_hand(cluster, "web-config", "web", {"value": "hand-edited"})
    fleet.kube(cluster).resources.get(api_version="v1", kind="ConfigMap").delete(
        name="web-extra", namespace="web"
    )


def wait_healed(fleet: Harness, cluster: str, what: str, *, deleted_too: bool = False) -> None:
    """Until web-config on `cluster` holds Git's value again (and web-extra is back, with
    `deleted_too`)."""

    def healed() -> bool:
        cm = fleet.live(cluster, "v1", "ConfigMap", "web-config", "web")
        back = not deleted_too or fleet.live(cluster, "v1", "ConfigMap", "web-extra", "web")
        return bool(cm and cm["data"]["value"] == "1" and back)

    wait_for(healed, timeout=30, what=what)
