"""A change set: what a sync did to each object, in order, with the counts a status line shows."""

from __future__ import annotations

from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.model import ChangeAction, ResourceKey

WEB = ResourceKey.parse("core/ConfigMap/web/a")
API = ResourceKey.parse("apps/Deployment/web/api")


def test_a_change_without_a_message_prints_its_key_and_action_only() -> None:
    assert str(Change(WEB, ChangeAction.CREATED)) == "core/ConfigMap/web/a: created"
    assert str(Change(API, ChangeAction.FAILED, "boom")) == "apps/Deployment/web/api: failed: boom"


def test_a_change_reads_back_from_json_without_a_message_as_an_empty_one() -> None:
    change = Change.from_json({"key": "core/ConfigMap/web/a", "action": "pruned"})
    assert change == Change(WEB, ChangeAction.PRUNED, "")
    assert Change(WEB, ChangeAction.PRUNED, "gone").to_json() == {
        "key": "core/ConfigMap/web/a",
        "action": "pruned",
        "message": "gone",
    }


def test_change_sets_add_in_order_and_count_their_changes() -> None:
    first = ChangeSet.of([Change(WEB, ChangeAction.CREATED)])
    second = ChangeSet.of([Change(API, ChangeAction.CONFIGURED), Change(WEB, ChangeAction.PRUNED)])
    both = first + second
    assert list(both) == [*first, *second]
    assert len(both) == 3
    assert both.written == 3


def test_the_last_action_recorded_for_a_key_is_its_action() -> None:
    changes = ChangeSet.of(
        [
            Change(WEB, ChangeAction.SKIPPED),
            Change(API, ChangeAction.CREATED),
            Change(WEB, ChangeAction.REPLACED),
            Change(API, ChangeAction.FAILED, "boom"),
        ]
    )
    assert changes.action_of(WEB) is ChangeAction.REPLACED
    assert changes.action_of(API) is ChangeAction.FAILED
    assert changes.action_of(ResourceKey.parse("core/ConfigMap/web/b")) is None


def test_an_empty_change_set_says_so_and_counts_zero_everywhere() -> None:
    empty = ChangeSet()
    assert empty.summary() == "no objects"
    assert empty.counts == dict.fromkeys(ChangeAction, 0)
    assert list(empty.counts) == list(ChangeAction), "in the enum's order"
    assert (empty.written, empty.failed, len(empty)) == (0, (), 0)
