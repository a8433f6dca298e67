"""The demo's fleet.yaml shows per-cluster values: each cluster carries its region's values and
podinfo renders once per region, an override patching what differs."""

from __future__ import annotations

from pathlib import Path

from fleetsync.scheduler.demo.fleet_file import write_fleet
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.variants.grouping import render_groups


def test_the_demo_fleet_gives_each_region_its_own_podinfo(tmp_path: Path) -> None:
    kubeconfigs = {f"sim-00{i}": tmp_path / f"sim-00{i}.kubeconfig" for i in range(1, 7)}
    for path in kubeconfigs.values():
        path.write_text("apiVersion: v1\nkind: Config\n")
    fleet = load_fleet(
        write_fleet(
            tmp_path / "fleet.yaml",
            repository=tmp_path,
            kubeconfigs=kubeconfigs,
            charts_url="http://127.0.0.1:1/charts",
        )
    )
    assert fleet.clusters["sim-002"].values == {  # type: ignore[index]
        "region": {"name": "us", "domain": "us.demo.example"}
    }
    podinfo = fleet.applications["podinfo"]  # type: ignore[index]
    assert podinfo.substitute
    targets = [fleet.clusters[c] for c in fleet.targets_of(podinfo.name)]
    groups = render_groups(podinfo, targets).groups
    assert [g.clusters for g in groups] == [("sim-001", "sim-004"), ("sim-002", "sim-005")]
    assert [name for name, _ in groups[1].patches] == ["region", "us-more-replicas"]
