"""What an edit of fleet.yaml triggers, tick by tick on a real Redis: a reconcile on each cluster
an application newly targets (named, or newly matching its selector), a removal where asked for,
nothing for clusters it already ran on."""

from __future__ import annotations

import base64
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fleetsync.scheduler.tick import Ticker, pair_member, split_pair
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import DueSet, Store
from fleetsync.shared.tasking import Sender, TaskName, make_celery

FLEET = textwrap.dedent("""\
    repositories:
      - {{name: platform, url: "git://127.0.0.1:9/platform.git", interval: 60s}}
    clusters:
      - {{name: c1, kubeconfig: /nonexistent/c1.yaml, labels: {{env: prod}}}}
      - {{name: c2, kubeconfig: /nonexistent/c2.yaml, labels: {{env: {c2_env}}}}}
      - {{name: c3, kubeconfig: /nonexistent/c3.yaml, labels: {{env: dev}}}}
    applications:
      - name: web
        repository: platform
        path: apps/web
        targets: {{clusters: [{named}], selector: {{matchLabels: {{env: prod}}}}}}
        sync: {{pruneOnRemoval: {prune}}}
    """)


def _queued(store: Store, queue: str = "apply") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for priority in range(10):
        name = queue if priority == 0 else f"{queue}:{priority}"
        for raw in reversed(store.client.lrange(name, 0, -1)):
            message = json.loads(raw)
            _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            found.append((message["headers"]["task"], kwargs))
    return found


class Edits:
    def __init__(self, redis_url: str, path: Path) -> None:
        self.store = Store.connect(redis_url)
        self.path = path
        self.write(c2_env="dev", named="c3", prune="false")
        self.ticker = Ticker(
            self.store, Sender(make_celery(Settings(redis_url=redis_url)), self.store), path
        )
        assert self.ticker.tick().reloaded
        assert _queued(self.store) == [], "a first declaration reconciles through its renders"

    def write(self, **values: str) -> None:
        self.path.write_text(FLEET.format(**values))
        st = self.path.stat()
        os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    def edit(self, **values: str) -> list[tuple[str, dict[str, Any]]]:
        self.write(**values)
        assert self.ticker.tick().reloaded
        return _queued(self.store)


@pytest.fixture
def edits(redis_url: str, tmp_path: Path) -> Edits:
    return Edits(redis_url, tmp_path / "fleet.yaml")


def test_a_cluster_that_newly_matches_the_selector_is_reconciled(edits: Edits) -> None:
    assert edits.edit(c2_env="prod", named="c3", prune="false") == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c2", "reason": "targeted"})
    ]


def test_a_newly_named_cluster_is_reconciled_and_a_dropped_one_removed_when_asked(
    edits: Edits,
) -> None:
    assert edits.edit(c2_env="dev", named="c2", prune="true") == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c2", "reason": "targeted"}),
        (TaskName.PRUNE_REMOVED.value, {"app": "web", "cluster": "c3"}),
    ]


def test_a_dropped_cluster_is_left_alone_without_prune_on_removal(edits: Edits) -> None:
    assert edits.edit(c2_env="dev", named="c1", prune="false") == []


def test_a_tick_polls_the_due_repositories_and_checks_the_due_pairs_for_drift(
    edits: Edits,
) -> None:
    store = edits.store
    assert store.due_at(DueSet.DRIFT, pair_member("web", "c1")) is not None
    assert store.due_at(DueSet.DRIFT, pair_member("web", "c3")) is not None
    for which, member in ((DueSet.POLL, "platform"), (DueSet.DRIFT, pair_member("web", "c1"))):
        store.client.zadd(store.key("due", which), {member: 0}, xx=True)
    report = edits.ticker.tick()
    assert (report.polls, report.drift_checks) == (["platform"], [("web", "c1")])
    assert _queued(store, "poll") == [(TaskName.POLL.value, {"repo": "platform", "force": False})]
    assert _queued(store) == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c1", "reason": "drift"})
    ]
    again = edits.ticker.tick()
    assert (again.polls, again.drift_checks) == ([], []), "each is pushed to its next interval"


def test_pair_members_split_back_into_application_and_cluster() -> None:
    assert pair_member("web", "c1") == "web|c1"
    assert split_pair(pair_member("web", "c1")) == ("web", "c1")
    assert split_pair("web") == ("web", "")


def test_an_edit_of_what_an_application_renders_polls_its_repository_with_force(
    edits: Edits,
) -> None:
    edits.store.record_fetched(RepoName("platform"), "a" * 40)
    edits.path.write_text(edits.path.read_text().replace("path: apps/web", "path: apps/web2"))
    st = edits.path.stat()
    os.utime(edits.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert edits.ticker.tick().reloaded
    assert _queued(edits.store, "poll") == [
        (TaskName.POLL.value, {"repo": "platform", "force": True})
    ]
    assert _queued(edits.store) == [], "a render change reconciles through the render"


def test_a_repository_never_fetched_is_not_forced_by_an_edit(edits: Edits) -> None:
    edits.path.write_text(edits.path.read_text().replace("path: apps/web", "path: apps/web2"))
    st = edits.path.stat()
    os.utime(edits.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert edits.ticker.tick().reloaded
    assert _queued(edits.store, "poll") == []


def test_a_fleet_file_that_disappears_is_reported_once_and_the_last_good_one_kept(
    edits: Edits,
) -> None:
    text = edits.path.read_text()
    edits.path.unlink()
    report = edits.ticker.tick()
    assert report.fleet_error == f"{edits.path}: cannot read: No such file or directory"
    assert edits.store.fleet_error() == report.fleet_error
    assert edits.ticker.tick().fleet_error is None, "reported when it changes, not every tick"
    fleet = edits.store.load_fleet()
    assert fleet is not None and set(fleet.applications) == {"web"}
    edits.path.write_text(text)
    assert edits.ticker.tick().fleet_error is None
    assert edits.store.fleet_error() is None
