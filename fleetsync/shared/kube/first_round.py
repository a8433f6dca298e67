"""A reconcile's reads before its first write, sent as one round (`read_ahead.py` says how).

`read_first_round` is called by a reconcile of one pair as it connects: the claim's reads
(`identity.claim_reads`) go first, then, for a reconcile that will apply a bundle, what
`sync_application` reads before writing (`sync.sync_reads`: the inventory copy, the namespaces,
a LIST per kind), which needs discovery to place the objects. The reconcile then runs on the
returned client as it would on any other.
"""

from __future__ import annotations

import logging

from fleetsync.shared.kube.client import ClusterClient
from fleetsync.shared.kube.identity import claim_reads
from fleetsync.shared.kube.read_ahead import ReadAhead
from fleetsync.shared.kube.sync import sync_reads
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import SyncPolicy

log = logging.getLogger(__name__)


def read_first_round(
    client: ClusterClient,
    *,
    cluster: str,
    app: str,
    bundle: Bundle | None,
    policy: SyncPolicy,
    namespace: str | None,
) -> ReadAhead:
    """`client` for one reconcile, its first reads sent together: the claim's, and the sync's
    of `bundle` when given (a reconcile that applies)."""
    ahead = ReadAhead(client)
    ahead.fetch(claim_reads(client, cluster=cluster))
    if bundle is None:
        return ahead
    try:
        reads = sync_reads(client=ahead, app=app, bundle=bundle, policy=policy, namespace=namespace)
    except Exception as e:  # discovery failed: the sync meets it again where it always did
        log.debug("%s on %s: reads not sent ahead (%s)", app, cluster, e)
        return ahead
    ahead.fetch(reads)
    return ahead
