"""The set of clusters one kubesim process serves, and their kubeconfig files.

`Fleet` runs on the server's event loop: it adds and removes clusters (writing and deleting their
kubeconfigs), wires each cluster to the loop's timers and the simulated controllers, and exposes
the per-cluster knobs. The threaded `Simulator` and the admin endpoint both drive it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from kubesim import controllers, quota
from kubesim.cluster import Cluster
from kubesim.faults import ControllerSettings
from kubesim.kubeconfig import (
    ClusterAccess,
    write_combined_kubeconfig,
    write_kubeconfig,
)
from kubesim.routing import ApiServer
from kubesim.store import EVENT_LOG_SIZE

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Fleet:
    """Clusters by name, served by one `ApiServer` at `base_url`."""

    def __init__(
        self,
        api: ApiServer,
        loop: asyncio.AbstractEventLoop,
        base_url: str,
        kubeconfig_dir: Path,
        defaults: ControllerSettings | None = None,
        event_log_size: int = EVENT_LOG_SIZE,
    ) -> None:
        self.event_log_size = event_log_size
        self.api = api
        self.loop = loop
        self.base_url = base_url
        self.kubeconfig_dir = kubeconfig_dir
        self.defaults = defaults or ControllerSettings()
        self.write_combined = True

    def server_url(self, name: str) -> str:
        return f"{self.base_url}/clusters/{name}"

    def access(self, name: str) -> ClusterAccess:
        return ClusterAccess(name, self.server_url(name), self.api.clusters[name].token)

    def _schedule(self, delay: float, fn: object) -> None:
        assert callable(fn)
        if delay <= 0:
            self.loop.call_soon(fn)
        else:
            self.loop.call_later(delay, fn)

    def add(self, name: str, *, write_combined: bool = True) -> Cluster:
        if not _NAME.match(name) or len(name) > 63:
            raise ValueError(f"cluster name {name!r} must be a DNS-1123 label")
        if name in self.api.clusters:
            raise ValueError(f"cluster {name!r} already exists")
        cluster = Cluster(name, schedule=self._schedule, event_log_size=self.event_log_size)
        cluster.controllers = self.defaults
        cluster.controller_hooks.append(controllers.react)
        cluster.store.subscribe(quota.watch(cluster))
        self.api.clusters[name] = cluster
        write_kubeconfig(self.kubeconfig_dir, self.access(name))
        if write_combined:
            self.rewrite_combined()
        return cluster

    def remove(self, name: str) -> None:
        if self.api.clusters.pop(name, None) is None:
            raise KeyError(name)
        (self.kubeconfig_dir / f"{name}.kubeconfig").unlink(missing_ok=True)
        self.rewrite_combined()

    def rewrite_combined(self) -> Path:
        return write_combined_kubeconfig(
            self.kubeconfig_dir, [self.access(n) for n in self.api.clusters]
        )

    def get(self, name: str) -> Cluster:
        try:
            return self.api.clusters[name]
        except KeyError:
            raise KeyError(f"no simulated cluster named {name!r}") from None
