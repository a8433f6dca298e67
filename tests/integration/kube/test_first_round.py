"""A reconcile's reads before its first write go to the cluster together, and fail as before.

On a real Redis and a kubesim cluster of the test's own. kubesim's `hold` fault keeps every
request unanswered until it is lifted, and counts those waiting (`held`): the requests a
reconcile has in flight at once, seen without a clock. A reconcile given a client of its own
(`reconcile_pair(client=...)`, as a batch gives it) sends its reads one after the other: what a
failure looks like that way is what it must look like when the reads go together.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fleetsync.shared.kube.client import ApiResource, connect
from fleetsync.shared.kube.first_round import read_first_round
from fleetsync.shared.kube.identity import CLAIM_NAME, forget_verified
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, mirror_name
from fleetsync.shared.kube.read_ahead import ReadAhead
from fleetsync.shared.model import SyncState, Trigger
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Fleet, SyncPolicy, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.reconcile import REQUEST_TIMEOUT, Outcome, reconcile_pair
from fleetsync.shared.store import Store
from kubesim import ClusterHandle, RequestRecord
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map, service
from tests.support.waiting import wait_for

APP = AppName("web")
NAMESPACES = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)

SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}}
KINDS = ("configmaps", "services", "serviceaccounts")
FIRST_READS = {
    ("get", "namespaces", "", "kube-system"),  # the cluster's uid, for its claim
    ("get", "configmaps", INVENTORY_NAMESPACE, CLAIM_NAME),
    ("get", "configmaps", INVENTORY_NAMESPACE, mirror_name(APP)),  # the inventory copy
    ("get", "namespaces", "", "default"),  # where the objects go
    ("list", "configmaps", "default", ""),
    ("list", "services", "default", ""),
    ("list", "serviceaccounts", "default", ""),
}


def web(value: str, ns: str = "default") -> list[Mapping[str, Any]]:
    """The benchmark's application: a ConfigMap whose value each commit changes, a Service and
    a ServiceAccount."""
    account = {**SERVICE_ACCOUNT, "metadata": {"name": "web", "namespace": ns}}
    return [config_map("settings", ns, data={"value": value}), service("web", ns), account]


class Pair:
    def __init__(self, store: Store, live: Live) -> None:
        self.store = store
        self.live = live
        self.cluster = ClusterName(live.cluster.name)
        app = Application(
            name=APP,
            repository=RepoName("platform"),
            path="web",
            namespace="default",
            targets=Targets(clusters=(self.cluster,)),
            sync=SyncPolicy(drift_interval=300.0),
        )
        self.fleet = Fleet(clusters={self.cluster: live.cluster}, applications={APP: app})
        self.commits = 0

    @property
    def sim(self) -> ClusterHandle:
        return self.live.sim

    def commit(self, objects: list[Mapping[str, Any]]) -> Revision:
        """A new commit's desired state, the claim not looked at for longer than it is kept."""
        self.commits += 1
        revision = Revision(ref="main", sha=f"{self.commits:040d}")
        digest = self.store.put_bundle(Bundle.of(objects))
        self.store.set_desired(APP, DesiredState(revision, digest, "plain", rendered_at=1.0))
        forget_verified()
        return revision

    def reconcile(self, *, one_by_one: bool = False) -> Outcome:
        client = None
        if one_by_one:
            client = connect(self.live.cluster, cache_dir=self.live.cache_dir, timeout=20.0)
        return reconcile_pair(
            self.store,
            self.fleet,
            APP,
            self.cluster,
            trigger=Trigger.CHANGE,
            cache_dir=self.live.cache_dir,
            client=client,
        )


@pytest.fixture
def pair(redis_url: str, kubesim_live: Live) -> Pair:
    pair = Pair(Store.connect(redis_url), kubesim_live)
    pair.commit(web("1"))
    first = pair.reconcile().status
    assert first is not None and first.sync is SyncState.SYNCED, first
    return pair


def held_until(pair: Pair, count: int) -> Outcome:
    """Reconcile while the cluster holds every request; lifted once `count` wait together."""
    pair.sim.reset_request_counts()
    pair.sim.set_fault(hold=True)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(pair.reconcile)
        try:
            wait_for(
                lambda: pair.sim.held() >= count or running.done(),
                what=f"{count} requests of the reconcile in flight together",
            )
            together = pair.sim.held()
        finally:
            pair.sim.clear_faults()
        outcome = running.result(timeout=REQUEST_TIMEOUT)
    assert together == count, f"{together} requests in flight together, not {count}"
    return outcome


def test_a_commit_reads_the_claim_the_inventory_copy_the_namespace_and_each_kind_together(
    pair: Pair,
) -> None:
    revision = pair.commit(web("2"))

    outcome = held_until(pair, len(FIRST_READS))

    status = outcome.status
    assert status is not None and (status.sync, status.revision) == (SyncState.SYNCED, revision)
    assert status.counts["configured"] == 1 and status.counts["unchanged"] == 2
    log = [(r.verb, r.resource, r.namespace, r.name) for r in pair.sim.request_log()]
    assert set(log[: len(FIRST_READS)]) == FIRST_READS
    assert log[len(FIRST_READS) :] == [("apply", "configmaps", "default", "settings")]


def test_reads_sent_together_are_the_reads_sent_one_by_one(pair: Pair) -> None:
    pair.commit(web("2"))
    pair.sim.reset_request_counts()
    assert pair.reconcile(one_by_one=True).status is not None
    one_by_one = pair.sim.request_counts()
    pair.commit(web("3"))
    pair.sim.reset_request_counts()

    assert pair.reconcile().status is not None

    assert pair.sim.request_counts() == one_by_one, "not one request more, nor one less"


def test_a_claim_verified_lately_is_not_read_again(pair: Pair) -> None:
    pair.commit(web("2"))
    assert pair.reconcile().status is not None
    pair.sim.reset_request_counts()
    pair.store.set_desired(
        APP,
        DesiredState(
            Revision(ref="main", sha="f" * 40),
            pair.store.put_bundle(Bundle.of(web("3"))),
            "plain",
            rendered_at=1.0,
        ),
    )

    outcome = held_until(pair, len(FIRST_READS) - 2)

    assert outcome.status is not None and outcome.status.sync is SyncState.SYNCED
    reads = {(r.verb, r.resource, r.namespace, r.name) for r in pair.sim.request_log()}
    assert ("get", "configmaps", INVENTORY_NAMESPACE, CLAIM_NAME) not in reads


Fault = Callable[[ClusterHandle], object]
FAILURES: dict[str, tuple[Fault, list[Mapping[str, Any]]]] = {
    "every request refused (403)": (lambda sim: sim.set_fault(forbidden=True), web("x")),
    "the cluster down": (lambda sim: sim.set_fault(down=True), web("x")),
    "every request answered 503": (
        lambda sim: sim.set_fault(error_rate=1.0, error_code=503),
        web("x"),
    ),
    "a namespace that does not exist": (lambda sim: None, web("x", ns="nowhere")),
}


def writes(sim: ClusterHandle) -> list[tuple[str, str, str]]:
    """The writes the cluster was sent (answered or not), dry-runs included."""
    return [
        (r.verb, r.resource, r.name)
        for r in sim.request_log()
        if r.verb not in ("get", "list", "watch")
    ]


def path_of(record: RequestRecord) -> str:
    """The request's path (kubesim logs a request its faults answered by its path)."""
    if record.resource.startswith("/"):
        return record.resource
    where = f"namespaces/{record.namespace}/" if record.namespace else ""
    return f"/api/v1/{where}{record.resource}" + (f"/{record.name}" if record.name else "")


def round_paths(ns: str) -> set[str]:
    """The paths of the first round's reads, the objects in namespace `ns`."""
    system = f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps"
    return {
        "/api/v1/namespaces/kube-system",
        f"{system}/{CLAIM_NAME}",
        f"{system}/{mirror_name(APP)}",
        f"/api/v1/namespaces/{ns}",
        *(f"/api/v1/namespaces/{ns}/{kind}" for kind in KINDS),
    }


def _as_reported(status: PairStatus | None) -> tuple[object, ...]:
    assert status is not None
    return (status.sync, status.health, status.failed, status.message, status.revision)


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_a_failed_read_is_reported_as_when_the_reads_go_one_by_one(
    pair: Pair, failure: str
) -> None:
    fault, objects = FAILURES[failure]
    pair.commit(objects)
    fault(pair.sim)
    pair.sim.reset_request_counts()
    one_by_one = pair.reconcile(one_by_one=True)
    written_one_by_one = writes(pair.sim)
    pair.commit(objects)
    pair.sim.reset_request_counts()

    together = pair.reconcile()

    assert _as_reported(together.status) == _as_reported(one_by_one.status)
    assert (together.retry_in is None) == (one_by_one.retry_in is None)
    assert writes(pair.sim) == written_one_by_one == [], "nothing written after a failed read"
    # The reads nobody took may still be on their way: what was sent is some of the round.
    ns = "nowhere" if failure.startswith("a namespace") else "default"
    sent = Counter(path_of(r) for r in pair.sim.request_log())
    assert set(sent) <= round_paths(ns) and set(sent.values()) == {1}, f"the round alone: {sent}"


def test_a_list_refused_falls_back_to_reading_each_object_as_before(pair: Pair) -> None:
    revision = pair.commit(web("2"))
    pair.sim.forbid_lists("configmaps", ["default"])
    pair.sim.reset_request_counts()

    outcome = pair.reconcile()

    status = outcome.status
    assert status is not None and (status.sync, status.revision) == (SyncState.SYNCED, revision)
    refused = [r for r in pair.sim.request_log() if r.code == 403]
    assert [(r.verb, r.resource, r.namespace) for r in refused] == [
        ("list", "configmaps", "default")
    ]
    assert pair.sim.request_counts()[("get", "configmaps")] == 3, (
        "the claim, the inventory copy, and the ConfigMap its LIST could not show"
    )


def test_what_was_read_before_a_write_is_read_again_after_it(pair: Pair) -> None:
    """A new cluster's claim and mirrors are written before the sync reads: what was read
    ahead of those writes is read again after them."""
    pair.sim.reset_request_counts()
    pair.live.operator.request(
        "DELETE", f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{CLAIM_NAME}"
    )
    revision = pair.commit(web("2"))

    outcome = pair.reconcile()

    status = outcome.status
    assert status is not None and (status.sync, status.revision) == (SyncState.SYNCED, revision)
    log = pair.sim.request_log()
    # The claim's write is the reconcile's first create (a POST: the log names no object).
    claim = next(i for i, r in enumerate(log) if (r.verb, r.resource) == ("create", "configmaps"))
    lists = [i for i, r in enumerate(log) if (r.verb, r.resource) == ("list", "configmaps")]
    # Read ahead, then again after the claim's write; on a busy machine the read ahead may not
    # have been sent before the write took it back, leaving only the LIST after it.
    assert lists and lists[-1] > claim, "the ConfigMaps the sync used were listed after the claim"
    assert len(lists) <= 2


def _first_round(live: Live, bundle: Bundle | None) -> ReadAhead:
    client = connect(live.cluster, cache_dir=live.cache_dir / "fresh", timeout=20.0)
    return read_first_round(
        client,
        cluster=live.cluster.name,
        app=APP,
        bundle=bundle,
        policy=SyncPolicy(),
        namespace="default",
    )


def test_a_reconcile_that_applies_nothing_reads_only_the_claim_ahead(
    kubesim_live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    forget_verified()
    kubesim_live.sim.reset_request_counts()
    caplog.set_level(logging.DEBUG, logger="fleetsync.shared.kube.first_round")

    ahead = _first_round(kubesim_live, None)

    wait_for(lambda: len(kubesim_live.sim.request_log()) >= 2, what="the claim's reads")
    assert ahead.get(NAMESPACES, name="kube-system") is not None
    assert {(r.verb, r.resource, r.name) for r in kubesim_live.sim.request_log()} == {
        ("get", "namespaces", "kube-system"),
        ("get", "configmaps", CLAIM_NAME),
    }
    assert caplog.records == [], "no sync's reads were planned"


def test_when_discovery_fails_the_sync_s_reads_are_not_sent_ahead_and_it_says_why(
    kubesim_live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    forget_verified()
    caplog.set_level(logging.DEBUG, logger="fleetsync.shared.kube.first_round")
    kubesim_live.sim.set_fault(forbidden=True)
    try:
        ahead = _first_round(kubesim_live, Bundle.of(web("1")))
    finally:
        kubesim_live.sim.clear_faults()

    assert isinstance(ahead, ReadAhead)
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith(
        f"web on {kubesim_live.cluster.name}: reads not sent ahead (cluster "
        f"{kubesim_live.cluster.name}: "
    ), record.getMessage()
