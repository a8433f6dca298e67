"""Which clusters of an application a change window or the freeze holds, as the rollout
controller asks for many at once (real Redis for the freeze): a window's cluster selector is
honoured cluster by cluster, clusters with the same labels get the same answer, and the freeze
holds every one."""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.fleet import parse_fleet
from fleetsync.shared.gates import window_hold, window_holds
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.planning.windows import Freeze
from fleetsync.shared.store import Store

FLEET = """\
repositories: [{name: r, url: https://git.example.com/r.git}]
clusters:
  - {name: eu-1, kubeconfig: /tmp/k, labels: {region: eu}}
  - {name: eu-2, kubeconfig: /tmp/k, labels: {region: eu}}
  - {name: us-1, kubeconfig: /tmp/k, labels: {region: us}}
  - {name: bare, kubeconfig: /tmp/k}
applications: [{name: web, repository: r, path: web, targets: {selector: {}}}]
windows:
  - name: eu-nights
    kind: deny
    schedule: "* * * * *"
    duration: 2h
    clusters: {selector: {matchLabels: {region: eu}}}
"""


def test_a_window_holds_the_clusters_its_selector_matches_and_the_freeze_holds_all(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    fleet = parse_fleet(FLEET, source="fleet.yaml", base_dir=Path("/tmp"))
    now = store.now()
    clusters = ["eu-1", "us-1", "eu-2", "bare"]
    held = window_holds(store, fleet, "web", clusters, now=now)
    assert sorted(held) == ["eu-1", "eu-2"]
    assert "deny window 'eu-nights' is open until" in held["eu-1"].reason
    # The same answer as asking cluster by cluster.
    for cluster in clusters:
        assert held.get(ClusterName(cluster)) == window_hold(store, fleet, "web", cluster, now=now)
    store.set_freeze(Freeze(reason="incident 3", at=now))
    frozen = window_holds(store, fleet, "web", clusters, now=now)
    assert sorted(frozen) == sorted(clusters)
    assert all("incident 3" in h.reason for h in frozen.values())
