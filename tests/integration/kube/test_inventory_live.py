"""The cluster copy of an inventory (`fleetsync-system/fleetsync-inventory-<app>`) on kubesim and
on a real API server: what it holds, fleetsync's write winning over another field manager's edit
of it, and a copy edited into something unreadable."""

from __future__ import annotations

import json
import logging

import pytest

from fleetsync.shared.kube.hookrun import HookRun, RunState
from fleetsync.shared.kube.inventory import (
    HOOKS_DATA_KEY,
    INVENTORY_DATA_KEY,
    INVENTORY_NAMESPACE,
    WAVES_DATA_KEY,
    ClusterRecord,
    Inventory,
    inventory_text,
    mirror_name,
    read_cluster_inventory,
    read_cluster_record,
    write_cluster_inventory,
)
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.kube.waves import WaveProgress
from tests.integration.kube.conftest import Live


def test_a_copy_edited_by_another_field_manager_is_taken_back_by_the_next_write(
    live: Live,
) -> None:
    """Server-side apply without force would refuse the write with a conflict over the field
    the other manager now owns; the copy must follow every sync."""
    first = Inventory.from_mapping({f"core/ConfigMap/{live.ns}/a": "v1"})
    write_cluster_inventory(live.client, live.app, first)
    path = _path(live)
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


def test_the_cluster_copy_is_a_labelled_configmap_with_one_entry_per_line(live: Live) -> None:
    assert read_cluster_record(live.client, live.app) == ClusterRecord()
    inventory = Inventory.from_mapping({f"core/ConfigMap/{live.ns}/a": "v1"})
    waves = WaveProgress(bundle="d" * 64, wave=2, since=100.0)
    hooks = HookRun(bundle="d" * 64, state=RunState.FAILED, since=5.0, started=1.0)
    write_cluster_inventory(live.client, live.app, inventory, waves=waves, hooks=hooks)
    stored = live.operator.get(_path(live))
    assert stored is not None
    assert stored["metadata"]["labels"] == {MANAGED_BY_LABEL: MANAGED_BY}
    assert stored["metadata"]["annotations"] == {APPLICATION_ANNOTATION: live.app}
    assert stored["data"] == {
        "inventory.json": inventory_text(inventory),
        "waves.json": json.dumps(waves.to_json(), sort_keys=True),
        "hooks.json": json.dumps(hooks.to_json(), sort_keys=True),
    }, "the keys other fleetsync versions read"
    home = live.operator.get(f"/api/v1/namespaces/{INVENTORY_NAMESPACE}")
    assert home is not None
    if live.simulated:  # created by the write (a real cluster of the session may have it)
        assert home["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
    assert read_cluster_record(live.client, live.app) == ClusterRecord(
        inventory=inventory, waves=waves, hooks=hooks
    )
    write_cluster_inventory(live.client, live.app, inventory)
    assert read_cluster_record(live.client, live.app) == ClusterRecord(inventory=inventory)


def test_a_cluster_copy_edited_into_no_inventory_is_none_and_said(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    write_cluster_inventory(live.client, live.app, Inventory())
    junk = {INVENTORY_DATA_KEY: "[1]", WAVES_DATA_KEY: "{", HOOKS_DATA_KEY: "no"}
    live.operator.merge_patch(_path(live), {"data": junk})
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.inventory"):
        assert read_cluster_record(live.client, live.app) == ClusterRecord()
    assert [r.getMessage() for r in caplog.records] == [
        f"{INVENTORY_NAMESPACE}/{mirror_name(live.app)} on cluster {live.cluster.name} is not a "
        f"fleetsync inventory ({_refusal('[1]')}); using the Redis copy alone"
    ]

    # A copy with no entries at all is an empty inventory, not an unreadable one.
    live.operator.merge_patch(_path(live), {"data": {INVENTORY_DATA_KEY: None}})
    assert read_cluster_inventory(live.client, live.app) == Inventory()


def _refusal(text: str) -> str:
    try:
        Inventory.from_mapping(json.loads(text))
    except ValueError as e:
        return str(e)
    raise AssertionError(f"{text} read as an inventory")


def _path(live: Live) -> str:
    return f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name(live.app)}"
