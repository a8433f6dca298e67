"""The cluster copy of an inventory (`fleetsync-system/fleetsync-inventory-<app>`) on kubesim and
on a real API server: fleetsync's write wins over another field manager's edit of it."""

from __future__ import annotations

from fleetsync.shared.kube.inventory import (
    INVENTORY_DATA_KEY,
    Inventory,
    mirror_name,
    read_cluster_inventory,
    write_cluster_inventory,
)
from tests.integration.kube.conftest import Live


def test_a_copy_edited_by_another_field_manager_is_taken_back_by_the_next_write(
    live: Live,
) -> None:
    """Server-side apply without force would refuse the write with a conflict over the field
    the other manager now owns; the copy must follow every sync."""
    first = Inventory.from_mapping({f"core/ConfigMap/{live.ns}/a": "v1"})
    write_cluster_inventory(live.client, live.app, first)
    path = f"/api/v1/namespaces/fleetsync-system/configmaps/{mirror_name(live.app)}"
    edited = {"apiVersion": "v1", "kind": "ConfigMap", "data": {INVENTORY_DATA_KEY: "{}\n"}}
    live.operator.apply(path, edited, manager="kubectl")
    assert read_cluster_inventory(live.client, live.app) == Inventory()

    second = Inventory.from_mapping(
        {f"core/ConfigMap/{live.ns}/a": "v1", f"apps/Deployment/{live.ns}/api": "apps/v1"}
    )
    write_cluster_inventory(live.client, live.app, second)
    assert read_cluster_inventory(live.client, live.app) == second
    stored = live.operator.get(path)
    assert stored is not None
    owners = {
        m["manager"]: m["fieldsV1"].get("f:data", {}) for m in stored["metadata"]["managedFields"]
    }
    assert f"f:{INVENTORY_DATA_KEY}" in owners["fleetsync"], owners
    assert f"f:{INVENTORY_DATA_KEY}" not in owners.get("kubectl", {}), owners
