"""Operators' intents that outlive Redis: each reconcile keeps the application's intents
(suspension, a rollback pin) mirrored in the pair's cluster (`kube.intents`), and reads them
back from there when Redis lost them.

Redis stays the authority while it keeps its data: an operator's `resume` clears the intents,
and the next reconcile of each target clears its mirror. A mirror written in an earlier life of
Redis (another `epoch`: Redis lost everything and started again) whose intents are newer than
what Redis knows, and Redis knows nothing an operator set since, is read back into Redis before
the reconcile chooses what to run: a pinned application stays on its pin (its bundle comes back
with it when it fit in the mirror), a suspended one stays suspended. When two clusters' mirrors
disagree (one was unreachable when an operator changed them), the later intents win.

A reconcile reads the mirror only when the pair's last write of it is not known to match what
Redis holds (`intents_mirrored`, forgotten with the rest of Redis's data): one Redis round trip
in the steady state.
"""

from __future__ import annotations

import logging

from fleetsync.shared.kube import ClusterClient
from fleetsync.shared.kube.intents import read_intents, write_intents
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.store import Store

log = logging.getLogger(__name__)


def keep_intents(store: Store, client: ClusterClient, app: AppName, cluster: ClusterName) -> bool:
    """Bring the cluster's mirror and Redis together (see the module docstring); True when
    the intents Redis holds were read back from a mirror (by this call or another since the
    loss): the caller chooses what to run again, a pin may have come back meanwhile."""
    view = store.intents_view(app, cluster)
    if view.mirrored == view.intents.fingerprint(view.epoch):
        return view.restored
    mirror = read_intents(client, app)
    restored = False
    if (
        mirror is not None
        and mirror.epoch != view.epoch
        and (view.intents.at == 0.0 or view.restored)
        and mirror.intents.at > view.intents.at
    ):
        restored = store.restore_intents(app, mirror.intents)
        if restored:
            if mirror.bundle is not None:
                store.put_bundle(mirror.bundle)
            pin = mirror.intents.pin
            log.warning(
                "%s: Redis had lost its operators' intents; read back from cluster %s: %s",
                app,
                cluster,
                ", ".join(
                    ([f"rolled back to {pin.revision}"] if pin else [])
                    + (["suspended"] if mirror.intents.suspended else [])
                )
                or "none (resumed)",
            )
        # Taken or not, what Redis holds now: another cluster's reconcile may have read back
        # the same intents (or later ones) since this one looked.
        view = store.intents_view(app, cluster)
    want = view.intents.fingerprint(view.epoch)
    held = mirror.intents.fingerprint(mirror.epoch) if mirror is not None else None
    if held != want and (mirror is not None or view.intents.any):
        pin = view.intents.pin
        bundle = store.get_bundle(pin.digest) if pin is not None else None
        write_intents(client, app, epoch=view.epoch, intents=view.intents, bundle=bundle)
    store.note_mirrored(app, cluster, want)
    return restored or view.restored
