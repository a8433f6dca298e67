"""Every fleetsync process may open as many files as the system lets it.

An apply worker keeps a client for every cluster the fleet declares, and each client keeps its
connections to its cluster open between reconciles: several sockets per cluster, thousands for
a fleet of a thousand clusters, beside the watcher's watches. A process starts with the soft limit
on open files it inherits, often 1,024, far below the hard limit the system allows; past it, a
connection fails with "Too many open files" although the system has room. So each process raises
its soft limit to the hard one when it starts (as the Go runtime does for every program), and a
process it starts inherits it.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; return the limit now in
    force (the soft one kept, and logged, if the system refuses)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as e:
        log.warning(
            "open files: the limit stays %d (raising it to %d was refused: %s)", soft, hard, e
        )
        return soft
    return hard
