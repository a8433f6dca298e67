"""How a commit's reconciles are sent: per cluster where many applications changed on it."""

from __future__ import annotations

from fleetsync.shared.planning.fanout import Fanout, plan_fanout


def test_a_cluster_with_enough_changed_applications_gets_one_task_the_others_one_per_pair() -> None:
    pairs = [("a", "c1"), ("b", "c1"), ("c", "c1"), ("a", "c2"), ("b", "c3")]
    assert plan_fanout(pairs, batch_from=3) == Fanout(
        pairs=(("a", "c2"), ("b", "c3")), batches=(("c1", ("a", "b", "c")),)
    )


def test_batches_are_bounded_and_zero_means_never() -> None:
    pairs = [(f"app{i}", "c1") for i in range(5)]
    assert plan_fanout(pairs, batch_from=2, limit=2).batches == (
        ("c1", ("app0", "app1")),
        ("c1", ("app2", "app3")),
        ("c1", ("app4",)),
    )
    assert plan_fanout(pairs, batch_from=0) == Fanout(pairs=tuple(pairs), batches=())
