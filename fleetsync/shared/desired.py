"""Which desired state one (application, cluster) pair runs: the one place that choice is made.

Every reader of "what should this cluster run" asks here: the reconcile (what to apply, and
whether a look-only check is behind Git), the read model and the tasks' fan-out. The rules, in
order:

1. an operator's rollback pin: the revision the operator chose, until `resume`;
2. the state the latest render gives this cluster (`latest_for_pair`).

So that each rule has one home, a new rule (a progressive rollout holding a cluster on its
previous revision, a render variant of its own for a cluster) is added here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.store import Store


class Because(StrEnum):
    """Why a pair runs the state it runs."""

    GIT = "git"
    """The latest render of what Git declares."""
    PIN = "pin"
    """An operator's rollback pin."""


@dataclass(frozen=True, slots=True)
class PairDesired:
    revision: Revision
    digest: Digest
    because: Because = Because.GIT


def desired_for_pair(store: Store, app: AppName, cluster: ClusterName) -> PairDesired | None:
    """What the pair should run now; None while nothing was rendered for it yet."""
    pin = store.pin(app)
    if pin is not None:
        return PairDesired(revision=pin.revision, digest=pin.digest, because=Because.PIN)
    return latest_for_pair(store, app, cluster)


def latest_for_pair(store: Store, app: AppName, cluster: ClusterName) -> PairDesired | None:
    """What the latest render gives the pair, whatever holds it back (what a suspended or
    pinned pair is behind); None while nothing was rendered for it yet."""
    state = store.desired(app)
    if state is None:
        return None
    return PairDesired(revision=state.revision, digest=state.digest)
