"""Inventory arithmetic: stale, merge and re-tracking, and the cluster copy's names and text."""

from __future__ import annotations

import json

import pytest

from fleetsync.shared.kube.inventory import (
    Inventory,
    InventoryEntry,
    inventory_text,
    merge,
    mirror_name,
    stale,
)
from fleetsync.shared.model import ResourceKey


def inv(*pairs: tuple[str, str]) -> Inventory:
    return Inventory.from_entries(InventoryEntry(ResourceKey.parse(k), v) for k, v in pairs)


DEPLOY = ("apps/Deployment/web/api", "apps/v1")
SERVICE = ("core/Service/web/api", "v1")
NS = ("core/Namespace/_/web", "v1")


def test_of_manifests_records_each_key_with_the_apiversion_it_was_applied_with() -> None:
    inventory = Inventory.of(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "web"},
            },
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}},
        ]
    )
    assert inventory == inv(DEPLOY, NS)
    assert inventory.api_version(ResourceKey.parse("apps/Deployment/web/api")) == "apps/v1"


@pytest.mark.parametrize(
    ("previous", "desired", "expected"),
    [
        pytest.param(inv(DEPLOY, SERVICE), inv(DEPLOY), inv(SERVICE), id="dropped-object-is-stale"),
        pytest.param(inv(DEPLOY), inv(DEPLOY, SERVICE), inv(), id="added-object-is-not-stale"),
        pytest.param(inv(), inv(DEPLOY), inv(), id="nothing-before-nothing-stale"),
        pytest.param(inv(DEPLOY, NS), inv(), inv(DEPLOY, NS), id="empty-desired-everything-stale"),
        pytest.param(
            inv(("apps/Deployment/web/api", "apps/v1beta1")),
            inv(DEPLOY),
            inv(),
            id="new-apiversion-same-object-not-stale",
        ),
    ],
)
def test_stale(previous: Inventory, desired: Inventory, expected: Inventory) -> None:
    assert stale(previous, desired) == expected


def test_merge_is_the_union_and_the_later_apiversion_wins() -> None:
    old = inv(("apps/Deployment/web/api", "apps/v1beta1"), SERVICE)
    new = inv(DEPLOY, NS)
    assert merge(old, new) == inv(DEPLOY, SERVICE, NS)
    assert merge(new, old).api_version(ResourceKey.parse(DEPLOY[0])) == "apps/v1beta1"
    assert merge() == Inventory()


def test_failed_deletions_are_retracked_by_merging_them_back() -> None:
    desired = inv(DEPLOY)
    failed_to_prune = inv(SERVICE)
    assert merge(desired, failed_to_prune).keys == {
        ResourceKey.parse(DEPLOY[0]),
        ResourceKey.parse(SERVICE[0]),
    }


def test_an_inventory_refuses_one_key_with_two_apiversions() -> None:
    key = ResourceKey.parse(DEPLOY[0])
    with pytest.raises(ValueError, match="apps/Deployment/web/api"):
        Inventory(frozenset({InventoryEntry(key, "apps/v1"), InventoryEntry(key, "apps/v2")}))


def test_mapping_round_trip_matches_the_store_format() -> None:
    inventory = inv(DEPLOY, NS)
    mapping = inventory.to_mapping()
    assert mapping == {"apps/Deployment/web/api": "apps/v1", "core/Namespace/_/web": "v1"}
    assert list(mapping) == sorted(mapping)
    assert Inventory.from_mapping(mapping) == inventory


@pytest.mark.parametrize("bad", [["x"], {"not-a-key": "v1"}])
def test_from_mapping_rejects_what_is_not_an_inventory(bad: object) -> None:
    with pytest.raises(ValueError):
        Inventory.from_mapping(bad)  # type: ignore[arg-type]


def test_inventory_text_is_json_with_one_entry_per_line() -> None:
    text = inventory_text(inv(DEPLOY, SERVICE))
    assert json.loads(text) == {"apps/Deployment/web/api": "apps/v1", "core/Service/web/api": "v1"}
    assert text.count("\n") == 4
    assert json.loads(inventory_text(Inventory())) == {}


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("guestbook", "fleetsync-inventory-guestbook"),
        ("team-a.web", "fleetsync-inventory-team-a.web"),
    ],
)
def test_mirror_name_is_prefixed_app_name(app: str, expected: str) -> None:
    assert mirror_name(app) == expected


@pytest.mark.parametrize("app", ["Guest_Book", "a" * 300, "ünï"])
def test_mirror_name_of_an_app_name_that_is_no_dns_name_is_valid_and_distinct(app: str) -> None:
    name = mirror_name(app)
    assert name.startswith("fleetsync-inventory-")
    assert len(name) <= 253
    assert name == name.lower()
    assert all(c.isalnum() or c in "-." for c in name)
    assert name != mirror_name(app + "x")


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("Guest_Book", "fleetsync-inventory-guest-book-a38eb35f49"),
        ("Team A/Web", "fleetsync-inventory-team-a-web-464f1b6420"),
        ("ünï", "fleetsync-inventory-n-e975a52994"),
        ("___", "fleetsync-inventory-bda251550b"),
        ("a" * 300, "fleetsync-inventory-" + "a" * 200 + "-9835fa6bf4"),
    ],
)
def test_mirror_name_of_an_app_name_that_is_no_dns_name_keeps_what_it_can_read_and_a_digest(
    app: str, expected: str
) -> None:
    """Lowercased, each run of other characters a dash, at most 200 characters of it, then the
    first 10 hex digits of the name's sha256; only the digest when nothing readable is left."""
    assert mirror_name(app) == expected
    assert mirror_name(app, prefix="fleetsync-intents-") == expected.replace(
        "fleetsync-inventory-", "fleetsync-intents-"
    )


def test_a_mirror_name_is_kept_up_to_253_characters() -> None:
    longest = "a" * (253 - len("fleetsync-inventory-"))
    assert mirror_name(longest) == "fleetsync-inventory-" + longest
    too_long = mirror_name(longest + "a")
    assert too_long == "fleetsync-inventory-" + "a" * 200 + "-" + too_long[-10:]
