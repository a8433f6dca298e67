"""Reconcile many applications on one cluster in one go: the fleet-wide change's shape.

When one commit changes many applications that target the same cluster, one task converges them
all (`workers/apply.py: reconcile_cluster`): one round trip to Redis reads every pair (each with
its own lease), one connection and one discovery serve them, and the cluster's reads are shared
(`kube/shared_reads.py`: one LIST per kind for all of them, the inventory copies read at once).
Each pair is still reconciled by `reconcile_pair`, under its own lease, and records its own
status and history exactly as a reconcile of that pair alone would.

A cluster that fails as a whole (unreachable, hanging, refusing the credentials: an error of
the `ClusterFailure` kind, `Outcome.down`) fails the first pair that meets it; the pairs after
it get the same error as their status, with the same retry, without trying again (a hanging
cluster costs one timeout, not one per application). Any other failure is its pair's alone,
whatever its message says: an object RBAC forbids this cluster's user to write
(`ObjectForbidden`), a 500 of one object's admission webhook; the next pair is reconciled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from fleetsync.shared.errors import ClusterFailure
from fleetsync.shared.kube import ClusterClient, connect, share_reads
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import (
    REQUEST_TIMEOUT,
    Outcome,
    reconcile_pair,
    record_failure,
)
from fleetsync.shared.store import PairView, StoreError

log = logging.getLogger(__name__)


def reconcile_on_cluster(
    views: Sequence[PairView],
    fleet: Fleet,
    cluster: ClusterName,
    *,
    trigger: Trigger,
    cache_dir: Path,
) -> list[Outcome]:
    """Reconcile each pair of `views` (all on `cluster`, each lease held by the caller) with
    one shared client; the outcomes in the same order, their writes kept in the views."""
    client: ClusterClient | None = None
    declared = fleet.clusters.get(cluster)
    if declared is not None:
        try:
            client = share_reads(connect(declared, cache_dir=cache_dir, timeout=REQUEST_TIMEOUT))
        except StoreError:
            raise
        except Exception as exc:  # each pair meets it again and records it, see below
            log.debug("%s: shared reads unavailable (%s)", cluster, exc)
    outcomes: list[Outcome] = []
    down: ClusterFailure | None = None
    for view in views:
        app = AppName(view.pair[0])
        if down is not None:
            previous = view.recorded_status(app, cluster)
            outcomes.append(record_failure(view, app, cluster, previous, trigger, down))
            continue
        outcome = reconcile_pair(
            view, fleet, app, cluster, trigger=trigger, cache_dir=cache_dir, client=client
        )
        outcomes.append(outcome)
        down = outcome.down
    return outcomes
