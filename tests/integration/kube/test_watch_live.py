"""KindWatch on kubesim and on a real API server: which changes of fleetsync's own objects ask
for a drift check, resumption from bookmarks, a relist after 410, refused watches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, mirror_name
from fleetsync.shared.kube.watch import ClusterWatch, KindWatch, WatchState, WatchTimings
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import config_map, namespace, sync, widget_crd
from tests.support.waiting import wait_for

CONFIGMAPS = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
FAST = WatchTimings(
    timeout=(300, 300), first_retry=0.1, max_retry=0.5, refused_retry=0.5, quick_close=0.5
)


@dataclass
class Heard:
    checks: list[tuple[str, str]] = field(default_factory=list)
    check_alls: list[tuple[str, str]] = field(default_factory=list)
    changes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, app: str, why: str) -> None:
        with self.lock:
            self.checks.append((app, why))

    def check_all(self, kind: str, why: str) -> None:
        with self.lock:
            self.check_alls.append((kind, why))

    def changed(self) -> None:
        with self.lock:
            self.changes += 1


@contextmanager
def watching(live: Live, heard: Heard, timings: WatchTimings = FAST) -> Iterator[KindWatch]:
    watch = KindWatch(live.client, CONFIGMAPS, heard, timings=timings)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the watch did not stop"


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def applied(live: Live) -> None:
    sync(live, [namespace(live.ns), config_map("settings", live.ns, data={"mode": "fast"})])


def test_an_edit_by_hand_asks_for_a_check_and_fleetsyncs_own_apply_does_not(live: Live) -> None:
    heard = Heard()
    with watching(live, heard) as watch:
        wait_for(lambda: watch.state is WatchState.WATCHING, what="the watch open")
        applied(live)
        sync(live, [namespace(live.ns), config_map("settings", live.ns, data={"mode": "slow"})])
        live.operator.merge_patch(cm_path(live.ns, "settings"), {"data": {"mode": "edited"}})
        wait_for(lambda: heard.checks, what="a check after the edit")
        # Events come in order: the two applies came before the edit, and asked for nothing.
        app, why = heard.checks[0]
        assert app == live.app
        assert "kubectl-edit" in why and f"{live.ns}/settings" in why


def test_a_watch_selects_fleetsyncs_objects_on_the_server(live: Live) -> None:
    """Objects of a watched kind that fleetsync does not own never reach the watcher: its
    request selects by the managed-by label, so the server sends nothing of them."""
    heard = Heard()
    applied(live)
    for i in range(50):
        other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"other-{i}"}}
        live.operator.create(cm_path(live.ns), {**other, "data": {"v": "0"}})
    with watching(live, heard) as watch:
        wait_for(lambda: watch.state is WatchState.WATCHING, what="the watch open")
        for i in range(50):
            live.operator.merge_patch(cm_path(live.ns, f"other-{i}"), {"data": {"v": "1"}})
            live.operator.delete(cm_path(live.ns, f"other-{i}"))
        live.operator.merge_patch(cm_path(live.ns, "settings"), {"data": {"mode": "edited"}})
        wait_for(lambda: heard.checks, what="the check of the owned object's edit")
        # The edit of the owned object is the one event the server sent.
        assert watch.received == 1
        assert [a for a, _ in heard.checks] == [live.app]


def test_a_delete_and_the_inventory_mirrors_delete_ask_for_checks(live: Live) -> None:
    heard = Heard()
    applied(live)
    with watching(live, heard) as watch:
        wait_for(lambda: watch.state is WatchState.WATCHING, what="the watch open")
        live.operator.delete(cm_path(live.ns, "settings"))
        wait_for(lambda: heard.checks, what="a check after the delete")
        assert heard.checks[0] == (live.app, f"ConfigMap {live.ns}/settings deleted")
        live.operator.delete(cm_path(INVENTORY_NAMESPACE, mirror_name(live.app)))
        wait_for(lambda: len(heard.checks) > 1, what="a check after the mirror's delete")
        assert heard.checks[1][0] == live.app
        assert mirror_name(live.app) in heard.checks[1][1]


def test_a_watch_the_server_ends_resumes_where_it_was_without_checks(live: Live) -> None:
    heard = Heard()
    applied(live)
    short = WatchTimings(
        timeout=(1, 1), first_retry=0.1, max_retry=0.5, refused_retry=0.5, quick_close=0.0
    )
    with watching(live, heard, short):
        # Several watches end and are opened again from their last resourceVersion: the object
        # that exists is not seen again as new, and nothing is asked for.
        before = live.operator.get(cm_path(live.ns, "settings"))
        assert before is not None
        live.operator.merge_patch(cm_path(live.ns, "settings"), {"data": {"mode": "e1"}})
        wait_for(lambda: heard.checks, what="the first edit's check")
        wait_for(
            lambda: _watch_requests(live) >= 4 if live.simulated else True,
            what="watches started again",
            timeout=20,
        )
        live.operator.merge_patch(cm_path(live.ns, "settings"), {"data": {"mode": "e2"}})
        wait_for(lambda: len(heard.checks) >= 2, what="the second edit's check")
        assert [c[0] for c in heard.checks] == [live.app, live.app]
        assert heard.check_alls == []


def _watch_requests(live: Live) -> int:
    return sum(n for (verb, _), n in live.sim.request_counts().items() if verb == "watch")


@kubesim_only
def test_a_compacted_revision_relists_and_checks_every_pair_of_the_kind(live: Live) -> None:
    heard = Heard()
    applied(live)
    short = WatchTimings(
        timeout=(1, 1), first_retry=0.1, max_retry=0.5, refused_retry=0.5, quick_close=0.0
    )
    with watching(live, heard, short) as watch:
        wait_for(lambda: _watch_requests(live) >= 1, what="a watch")
        # Writes the watch has not seen yet, then their events compacted away before the watch
        # comes back: it gets 410, lists again and asks for every ConfigMap pair to be checked.
        live.sim.set_fault(watches="forbid")
        wait_for(lambda: watch.state is WatchState.REFUSED, what="the refusal noticed")
        live.operator.merge_patch(cm_path(live.ns, "settings"), {"data": {"mode": "lost"}})
        live.sim.compact()
        live.sim.clear_faults()
        wait_for(lambda: heard.check_alls, what="a relist after the lost events")
        assert heard.check_alls[0][0] == "ConfigMap"


@kubesim_only
@pytest.mark.parametrize("answer", ["forbid", "close"])
def test_a_cluster_refusing_watches_is_reported_refused_and_watched_once_it_allows(
    live: Live, answer: str
) -> None:
    heard = Heard()
    live.sim.set_fault(watches=answer)
    cluster = ClusterWatch(live.client, heard, timings=FAST)
    cluster.follow([])
    try:
        state = wait_for(
            lambda: cluster.state()[0] is WatchState.REFUSED and cluster.state(), what="refused"
        )
        expected = "cannot watch" if answer == "forbid" else "closes watches of ConfigMap (v1)"
        assert expected in state[1]
        live.sim.clear_faults()
        applied(live)
        wait_for(lambda: cluster.state()[0] is WatchState.WATCHING, what="watching again")
    finally:
        cluster.stop()


def test_a_kind_the_cluster_does_not_serve_is_kept_unknown_with_why_until_it_is_served(
    live: Live,
) -> None:
    """`ClusterWatch.unknown` says why a kind asked for is not watched; the kinds it serves are
    watched (here started by a `spawn` that runs nothing: only what is followed matters)."""
    started: list[str] = []
    cluster = ClusterWatch(
        live.client, Heard(), timings=FAST, spawn=lambda _run, name: started.append(name)
    )
    assert cluster.state() == (WatchState.STARTING, "")
    widget = (f"{live.group}/v1", "Widget")
    cluster.follow([widget, ("apps/v1", "Deployment")])
    assert cluster.state() == (WatchState.STARTING, "")
    assert cluster.unknown == {
        widget: f"kind Widget ({live.group}/v1) is not served by cluster {live.cluster.name}; "
        "install its CRD or add it to the bundle"
    }
    assert cluster.kinds == ["ConfigMap", "Deployment"]
    assert sorted(started) == [
        f"watch-{live.cluster.name}-configmaps",
        f"watch-{live.cluster.name}-deployments",
    ]

    crds = live.client.resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    live.client.apply(crds, widget_crd(live.group), force=True)
    live.client.invalidate_discovery()

    def served() -> bool:
        cluster.follow([widget, ("apps/v1", "Deployment")])
        return not cluster.unknown

    wait_for(served, what="the Widget kind served and followed")
    assert cluster.kinds == ["ConfigMap", "Deployment", "Widget"]
    assert started[-1] == f"watch-{live.cluster.name}-widgets" and len(started) == 3
    cluster.follow([])
    assert cluster.kinds == ["ConfigMap"] and not cluster.unknown
    cluster.follow([widget])
    assert cluster.kinds == ["ConfigMap", "Widget"] and len(started) == 4, "watched anew"
