"""`fleetsync watch`: the watcher process, event-driven drift detection for a shard of clusters.

Run one or more: the clusters are shared among the live watcher processes through Redis (see
`fleetsync.scheduler.watcher`). Redis, the cache directory and the connections a cluster's
client keeps idle come from the environment (FLEETSYNC_REDIS_URL, FLEETSYNC_CACHE_DIR,
FLEETSYNC_KUBE_CONNECTIONS), like the workers'. SIGTERM stops it cleanly: its
clusters are given back at once for another process to take.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

log = logging.getLogger(__name__)


@click.command("watch")
@click.option(
    "--coalesce",
    type=click.FloatRange(0.0, 3600.0),
    default=5.0,
    show_default=True,
    help="Seconds between two drift checks of one pair asked for by its events (the first 3 "
    "go at once; a flood of events then becomes one check per this many seconds).",
)
@click.option(
    "--beat",
    type=click.FloatRange(0.1, 60.0),
    default=5.0,
    show_default=True,
    help="Seconds between two beats: how soon this process takes its share of new clusters "
    "and follows new kinds. A dead process's clusters are taken over 3 beats (10 s at least) "
    "after its last one.",
)
def command(coalesce: float, beat: float) -> None:
    """Watch fleetsync's own objects on this process's share of the clusters and enqueue a
    drift check of a pair as soon as one of its objects is edited or deleted by hand."""
    from fleetsync.scheduler.watcher import CheckDispatcher, Watcher
    from fleetsync.shared.kube import keep_connections
    from fleetsync.shared.settings import load_settings
    from fleetsync.shared.store import RedisUrlError, Store
    from fleetsync.shared.tasking import Priority, Sender, Trigger, make_celery

    fleetsync_log = logging.getLogger("fleetsync")
    if fleetsync_log.getEffectiveLevel() > logging.INFO:
        fleetsync_log.setLevel(logging.INFO)
    settings = load_settings()
    keep_connections(settings.kube_connections)
    try:
        store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
    except RedisUrlError as exc:
        raise click.ClickException(f"FLEETSYNC_REDIS_URL: {exc}") from exc
    sender = Sender(make_celery(settings, main="fleetsync.watch"), store)

    def send(app: str, cluster: str, anew: bool) -> None:
        check = sender.reconcile_anew if anew else sender.reconcile
        check(app, cluster, reason=Trigger.DRIFT, priority=Priority.CHANGE)

    dispatcher = CheckDispatcher(send, gap=coalesce)
    # Discovery caches of its own: files another process (an apply worker) rewrites would be
    # read half-written.
    cache_dir = settings.cache_dir / "kube-watch"
    watcher = Watcher(store, dispatcher, cache_dir=cache_dir, beat=beat)
    stop = threading.Event()

    def stopping(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    threading.Thread(target=dispatcher.run, args=(stop,), name="drift-checks", daemon=True).start()
    log.info("watcher %s started", watcher.ident)
    try:
        watcher.run(stop)
    finally:
        watcher.close()
        dispatcher.wake()
        log.info("watcher %s stopped", watcher.ident)
