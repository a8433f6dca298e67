"""Which clusters go in which wave: named, selected, a stable share of the rest, the rest."""

from __future__ import annotations

from fleetsync.shared.model.declaration import RolloutPolicy, Selector, WaveSpec
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.planning.waves import assign_waves, overlaps, stable_order

CANARY = Selector(match_labels={"ring": "canary"})


def fleet(n: int, canaries: int = 0) -> dict[ClusterName, dict[str, str]]:
    return {
        ClusterName(f"c{i:04d}"): {"ring": "canary" if i < canaries else "main"} for i in range(n)
    }


def test_ten_canaries_then_forty_percent_of_the_rest_then_the_rest() -> None:
    policy = RolloutPolicy(
        waves=(WaveSpec("canary", selector=CANARY), WaveSpec("forty", percent=40))
    )
    waves = assign_waves(policy, fleet(1000, canaries=10))
    assert [(w.name, len(w.clusters)) for w in waves] == [
        ("canary", 10),
        ("forty", 396),
        ("rest", 594),
    ]
    assert all(c < "c0010" for c in waves[0].clusters)
    assert len({c for w in waves for c in w.clusters}) == 1000


def test_a_percent_wave_takes_the_same_clusters_every_time_whatever_the_order_given() -> None:
    policy = RolloutPolicy(waves=(WaveSpec("first", percent=25),))
    clusters = fleet(40)
    again = dict(reversed(list(clusters.items())))
    assert assign_waves(policy, clusters) == assign_waves(policy, again)
    first = assign_waves(policy, clusters)[0].clusters
    assert len(first) == 10 and list(first) == stable_order(list(first))


def test_a_percent_share_rounds_up_and_leaves_clusters_named_by_later_waves() -> None:
    policy = RolloutPolicy(
        waves=(WaveSpec("some", percent=10), WaveSpec("named", clusters=(ClusterName("c0003"),)))
    )
    waves = assign_waves(policy, fleet(5))
    assert len(waves[0].clusters) == 1 and "c0003" not in waves[0].clusters
    assert waves[1].clusters == ("c0003",)
    assert [w.name for w in waves] == ["some", "named", "rest"]


def test_no_waves_is_one_wave_of_every_cluster_and_no_rest_when_all_are_taken() -> None:
    assert [len(w.clusters) for w in assign_waves(RolloutPolicy(), fleet(3))] == [3]
    every = RolloutPolicy(waves=(WaveSpec("all", percent=100),))
    assert [w.name for w in assign_waves(every, fleet(3))] == ["all"]


def test_the_implicit_last_wave_is_renamed_when_a_wave_is_called_rest() -> None:
    policy = RolloutPolicy(waves=(WaveSpec("rest", clusters=(ClusterName("c0000"),)),))
    assert [w.name for w in assign_waves(policy, fleet(2))] == ["rest", "rest-2"]


def test_overlapping_waves_name_the_cluster_and_both_waves() -> None:
    policy = RolloutPolicy(
        waves=(
            WaveSpec("canary", clusters=(ClusterName("c0001"),)),
            WaveSpec("eu", selector=Selector(match_labels={"ring": "main"})),
        )
    )
    assert overlaps(policy, fleet(3)) == [("c0001", "canary", "eu")]
