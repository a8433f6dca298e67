"""A per-cluster task of a real apply worker over applications of one ConfigMap each: what the
tests of a batch's failures (an object refused, the rest of the batch going on) set up alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender
from fleetsync.workers.app import app
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for


def reconcile_in_one_batch(
    redis_url: str,
    cache_dir: Path,
    cluster: Cluster,
    homes: Mapping[AppName, str],
    *,
    revision: Revision,
    suffix: str,
) -> Store:
    """Declare each application of `homes` (name -> its namespace) on `cluster`, each desiring
    one ConfigMap `<application>-<suffix>` in its namespace at `revision`, reconcile them all in
    one per-cluster task, in `homes`' order, and return the store once the task is done."""
    configure_workers(redis_url, cache_dir)
    store = Store.connect(redis_url)
    store.publish_fleet(
        Fleet(
            clusters={cluster.name: cluster},
            applications={
                a: Application(
                    name=a,
                    repository=RepoName("platform"),
                    path=a,
                    namespace=ns,
                    targets=Targets(clusters=(cluster.name,)),
                )
                for a, ns in homes.items()
            },
        ),
        "d1",
    )
    for a, ns in homes.items():
        bundle = Bundle.of([config_map(f"{a}-{suffix}", ns)])
        store.set_desired(a, DesiredState(revision, store.put_bundle(bundle), "plain", 1.0))
    with running_worker(("apply",), concurrency=1):
        Sender(app, store).reconcile_on_cluster(
            cluster.name, list(homes), reason=Trigger.CHANGE, priority=Priority.CHANGE
        )
        wait_for(lambda: store.stats().get("task:reconcile_cluster:done", 0) == 1, timeout=60)
    return store
