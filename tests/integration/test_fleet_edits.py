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
from fleetsync.shared.tasking import Priority, Sender, TaskName, make_celery

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


def _rewrite(path: Path, text: str) -> None:
    """Write fleet.yaml as an edit does: its mtime moves on even within the clock's resolution."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


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
        _rewrite(self.path, FLEET.format(**values))

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
    periodic = int(Priority.PERIODIC)
    assert (store.client.llen(f"poll:{periodic}"), store.client.llen(f"apply:{periodic}")) == (1, 1)
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
    _rewrite(edits.path, edits.path.read_text().replace("path: apps/web", "path: apps/web2"))
    assert edits.ticker.tick().reloaded
    assert _queued(edits.store, "poll") == [
        (TaskName.POLL.value, {"repo": "platform", "force": True})
    ]
    assert _queued(edits.store) == [], "a render change reconciles through the render"


def test_a_repository_never_fetched_is_not_forced_by_an_edit(edits: Edits) -> None:
    _rewrite(edits.path, edits.path.read_text().replace("path: apps/web", "path: apps/web2"))
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


TWO_APPS = textwrap.dedent("""\
    repositories:
      - {{name: platform, url: "git://127.0.0.1:9/platform.git", interval: 60s}}
    clusters:
      - {{name: c1, kubeconfig: /nonexistent/c1.yaml}}
      - {{name: c2, kubeconfig: /nonexistent/c2.yaml}}
    applications:
      - {{name: api, repository: platform, path: {api_path}, targets: {{clusters: [c1]}}}}
      - name: web
        repository: platform
        path: apps/web
        targets: {{clusters: [{web_targets}]}}
        sync: {{driftInterval: 100s, pruneOnRemoval: true}}
    {extra}""")


def _write(path: Path, **values: str) -> None:
    _rewrite(path, TWO_APPS.format(**{"api_path": "apps/api", "extra": "", **values}))


def _ticker(redis_url: str, path: Path) -> tuple[Store, Ticker]:
    store = Store.connect(redis_url)
    return store, Ticker(store, Sender(make_celery(Settings(redis_url=redis_url)), store), path)


def _declared(redis_url: str, path: Path, *, web_targets: str) -> tuple[Store, Ticker]:
    """TWO_APPS with web on `web_targets`, published by a first tick."""
    _write(path, web_targets=web_targets)
    store, ticker = _ticker(redis_url, path)
    assert ticker.tick().reloaded
    return store, ticker


def test_one_edit_triggers_each_application_s_own_consequence(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    store, ticker = _declared(redis_url, path, web_targets="c1")
    store.record_fetched(RepoName("platform"), "a" * 40)
    _write(path, api_path="apps/api2", web_targets="c1, c2")
    assert ticker.tick().reloaded
    assert _queued(store, "poll") == [(TaskName.POLL.value, {"repo": "platform", "force": True})]
    assert store.client.llen(f"poll:{int(Priority.CHANGE)}") == 1
    assert _queued(store) == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c2", "reason": "targeted"})
    ]


def test_a_restarted_beat_compares_edits_with_the_published_declaration(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    _write(path, web_targets="c1")
    store, first = _ticker(redis_url, path)
    assert first.tick().reloaded
    _write(path, web_targets="c1, c2")
    _, restarted = _ticker(redis_url, path)
    assert restarted.tick().reloaded
    assert _queued(store) == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c2", "reason": "targeted"})
    ]


def test_an_application_removed_with_prune_on_removal_is_removed_from_each_target(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    store, ticker = _declared(redis_url, path, web_targets="c1, c2")
    _rewrite(
        path,
        TWO_APPS.format(api_path="apps/api", web_targets="c1", extra="").split("  - name: web")[0],
    )
    assert ticker.tick().reloaded
    assert _queued(store) == [
        (TaskName.PRUNE_REMOVED.value, {"app": "web", "cluster": "c1"}),
        (TaskName.PRUNE_REMOVED.value, {"app": "web", "cluster": "c2"}),
    ]


def test_a_new_pair_is_first_checked_for_drift_after_half_an_interval_or_more(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    _write(path, web_targets="c1")
    store, ticker = _ticker(redis_url, path)
    before = store.now()
    ticker.tick()
    due = store.due_at(DueSet.DRIFT, pair_member("web", "c1"))
    assert due is not None and before + 50 <= due <= store.now() + 100


VARIANT_FLEET = textwrap.dedent("""\
    repositories:
      - {{name: platform, url: "git://127.0.0.1:9/platform.git", interval: 60s}}
    clusters:
      - {{name: c1, kubeconfig: /nonexistent/c1.yaml, values: {{region: {c1_region}}}}}
      - {{name: c2, kubeconfig: /nonexistent/c2.yaml, values: {{region: eu}}}}
    applications:
      - {{name: web, repository: platform, path: apps/web, substitute: true,
         targets: {{clusters: [c1, c2]}}}}
      - {{name: api, repository: platform, path: apps/api, targets: {{clusters: [c1, c2]}}}}
    """)


def test_a_values_edit_re_renders_what_substitutes_and_reconciles_nothing_directly(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(VARIANT_FLEET.format(c1_region="eu"))
    store, ticker = _ticker(redis_url, path)
    assert ticker.tick().reloaded
    store.record_fetched(RepoName("platform"), "a" * 40)
    _rewrite(path, VARIANT_FLEET.format(c1_region="us"))
    assert ticker.tick().reloaded
    # web reads the values: its repository is fetched again, and the fetch reconciles the
    # clusters whose bundle moved; api does not read them: nothing happens to it.
    assert _queued(store) == []
    assert _queued(store, "poll") == [(TaskName.POLL.value, {"repo": "platform", "force": True})]


def test_a_newly_declared_cluster_that_an_application_targets_is_reconciled(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    store, ticker = _declared(redis_url, path, web_targets="c1")
    text = TWO_APPS.format(api_path="apps/api", web_targets="c1, c3", extra="")
    c3 = "  - {name: c3, kubeconfig: /nonexistent/c3.yaml}\n"
    _rewrite(path, text.replace("clusters:\n", f"clusters:\n{c3}", 1))
    assert ticker.tick().reloaded
    assert _queued(store) == [
        (TaskName.RECONCILE.value, {"app": "web", "cluster": "c3", "reason": "targeted"})
    ]


def test_a_cluster_reached_another_way_is_reconciled_by_the_applications_on_it(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.yaml"
    store, ticker = _declared(redis_url, path, web_targets="c1")
    for cluster, expected in (("c2", []), ("c1", ["api", "web"])):
        _rewrite(path, path.read_text().replace(f"{cluster}.yaml", f"{cluster}-new.yaml"))
        assert ticker.tick().reloaded
        assert _queued(store) == [
            (TaskName.RECONCILE.value, {"app": app, "cluster": cluster, "reason": "targeted"})
            for app in expected
        ], f"{cluster}'s kubeconfig moved"
