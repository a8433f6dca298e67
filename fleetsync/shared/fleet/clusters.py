"""fleet.yaml's `clusters`: kubeconfig, context, labels, per-cluster values and whether the
cluster is watched for drift."""

from __future__ import annotations

import os
from typing import Any

import fleetsync.shared.fleet.variants as fleet_variants
from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.walk import Walker, absolute
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName

CLUSTER_KEYS = ("name", "kubeconfig", "context", "labels", "values", "watch")


class ClusterReader(Walker):
    """Reads `clusters` entries."""

    def cluster(self, name: str | None, f: dict[str, At]) -> Cluster | None:
        kubeconfig = self.string(f["kubeconfig"]) if "kubeconfig" in f else None
        if kubeconfig is not None:
            kubeconfig = absolute(kubeconfig, self.base_dir)
            if not os.path.isfile(kubeconfig):
                self.warn(f["kubeconfig"], f"kubeconfig {kubeconfig} does not exist")
        options: dict[str, Any] = {}
        if "context" in f:
            options["context"] = self.string(f["context"])
        if "labels" in f:
            options["labels"] = self.labels(f["labels"])
        if "values" in f:
            options["values"] = fleet_variants.cluster_values(self, f["values"])
        if "watch" in f and (watch := self.boolean(f["watch"])) is not None:
            options["watch"] = watch
        if name is None or kubeconfig is None:
            return None
        return Cluster(name=ClusterName(name), kubeconfig=kubeconfig, **options)
