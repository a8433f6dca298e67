"""The intents' mirror keeps a held bundle bigger than one object may be (a Secret holds at most
1 MiB; a real API server refuses more): compressed, cut in parts, each part a Secret annotated
with the bundle's digest, read back only whole and with its digest. A bundle over the mirror's
bound is left out, and the writer says so."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import zlib

import pytest

from fleetsync.shared.kube.intents import (
    INTENTS_KEY,
    MAX_MIRRORED_BUNDLE,
    MAX_MIRRORED_ROLLOUT,
    PART_BYTES,
    PART_KEY,
    ROLLOUT_KEY,
    MirroredIntents,
    intents_name,
    part_name,
    read_intents,
    write_intents,
)
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import Intents, Pin
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot
from tests.integration.kube.conftest import Live

SECRETS = "/api/v1/namespaces/fleetsync-system/secrets"


def big_bundle(approx_bytes: int) -> Bundle:
    """ConfigMaps of random hex (about half of it survives compression)."""
    per = 200_000
    return Bundle(
        tuple(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"blob-{i}", "namespace": "default"},
                "data": {"blob": secrets.token_hex(per // 2)},
            }
            for i in range(max(1, approx_bytes // per))
        )
    )


def pinned(bundle: Bundle) -> Intents:
    revision = Revision.parse("main@sha1:" + "a" * 40)
    return Intents(suspended=True, pin=Pin(revision=revision, digest=bundle.digest, at=5.0), at=5.0)


def test_a_held_bundle_of_several_mebibytes_is_mirrored_in_parts_and_read_back_whole(
    live: Live,
) -> None:
    bundle = big_bundle(3_000_000)  # 1.5 to 2 MiB compressed: three or four parts
    parts = -(-len(zlib.compress(bundle.canonical(), 6)) // PART_BYTES)
    assert parts >= 3
    intents = pinned(bundle)
    left_out = write_intents(live.client, live.app, epoch="e1", intents=intents, bundle=bundle)
    assert left_out is None
    mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.parts == parts, mirror
    assert mirror.bundle is not None and mirror.bundle.digest == bundle.digest
    assert mirror.intents == intents and mirror.epoch == "e1"
    for index in range(1, parts):
        part = live.operator.get(f"{SECRETS}/{part_name(live.app, index)}")
        assert part is not None
        assert len(base64.b64decode(part["data"][PART_KEY])) <= PART_BYTES

    # A part that belongs to no bundle of this digest: nothing is read back rather than a
    # bundle that is not the one pinned.
    path = f"{SECRETS}/{part_name(live.app, 2)}"
    live.operator.merge_patch(path, {"data": {PART_KEY: base64.b64encode(b"junk").decode()}})
    broken = read_intents(live.client, live.app)
    assert broken is not None and broken.intents == intents and broken.bundle is None

    # A smaller bundle afterwards: one part, and the parts of the bigger one are gone.
    small = big_bundle(1)
    write_intents(
        live.client, live.app, epoch="e1", intents=pinned(small), bundle=small, had_parts=parts
    )
    again = read_intents(live.client, live.app)
    assert again is not None and again.parts == 1
    assert again.bundle is not None and again.bundle.digest == small.digest
    for index in range(1, parts):
        assert live.operator.get(f"{SECRETS}/{part_name(live.app, index)}") is None


def test_a_held_bundle_over_the_bound_is_left_out_and_said(live: Live) -> None:
    bundle = big_bundle(2 * MAX_MIRRORED_BUNDLE + 2_000_000)
    left_out = write_intents(
        live.client, live.app, epoch="e1", intents=pinned(bundle), bundle=bundle
    )
    assert left_out is not None
    assert "over the 8.0 MiB the cluster's mirror keeps" in left_out, left_out
    mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.intents == pinned(bundle)
    assert mirror.bundle is None and mirror.parts == 0
    assert live.operator.get(f"{SECRETS}/{part_name(live.app, 1)}") is None
    assert INVENTORY_NAMESPACE == "fleetsync-system"


def test_a_mirror_that_holds_no_bundle_reads_back_none_without_looking_for_one(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """A pin mirrored without its bundle (a held digest, no part), and a mirror whose intents
    name no held bundle beside a bundle: no bundle is read, and nothing is reported unreadable."""
    bundle = big_bundle(1)
    intents = pinned(bundle)
    write_intents(live.client, live.app, epoch="e1", intents=intents, bundle=None)
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.intents == intents
    assert mirror.bundle is None and mirror.parts == 0
    assert caplog.records == []

    unpinned = Intents(suspended=True, at=5.0)
    write_intents(live.client, live.app, epoch="e1", intents=unpinned, bundle=bundle)
    path = f"{SECRETS}/{intents_name(live.app)}"
    body = {"epoch": "e1", **unpinned.to_json()}  # what names the bundle held taken out
    text = base64.b64encode(json.dumps(body).encode()).decode()
    live.operator.merge_patch(path, {"data": {INTENTS_KEY: text}})
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.intents == unpinned
    assert mirror.bundle is None and mirror.parts == 1
    assert caplog.records == []


def rollout(plan_bytes: int = 0) -> RolloutSnapshot:
    record = {"id": "r1", "application": "web", "digest": "e" * 64, "phase": "paused"}
    plan = {"waves": [{"name": "canary", "clusters": ["c1"]}], "pad": secrets.token_hex(plan_bytes)}
    return RolloutSnapshot(
        record={**record, "version": 3},
        plan=plan,
        previous={"c1": f"{'e' * 64} main@sha1:{'a' * 40}"},
        progress={"c1": {"r": 10.0, "v": "ready"}},
    )


def test_a_mirrored_rollout_is_read_back_and_an_unreadable_one_left_out_and_said(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    assert read_intents(live.client, live.app) is None, "no mirror yet"
    intents = Intents(suspended=False, at=5.0)
    left_out = write_intents(
        live.client, live.app, epoch="e2", intents=intents, bundle=None, rollout=rollout()
    )
    assert left_out is None
    mirror = read_intents(live.client, live.app)
    assert mirror == MirroredIntents(epoch="e2", intents=intents, bundle=None, rollout=rollout())
    stored = live.operator.get(f"{SECRETS}/{intents_name(live.app)}")
    assert stored is not None and sorted(stored["data"]) == ["intents.json", "rollout.zz"]

    path = f"{SECRETS}/{intents_name(live.app)}"
    live.operator.merge_patch(path, {"data": {ROLLOUT_KEY: base64.b64encode(b"junk").decode()}})
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror == MirroredIntents(epoch="e2", intents=intents, bundle=None)
    assert [r.getMessage() for r in caplog.records] == [
        f"{intents_name(live.app)} on cluster {live.cluster.name}: rollout unreadable "
        "(Error -3 while decompressing data: incorrect header check)"
    ]

    caplog.clear()
    live.operator.merge_patch(path, {"data": {INTENTS_KEY: base64.b64encode(b"{}").decode()}})
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        assert read_intents(live.client, live.app) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{intents_name(live.app)} on cluster {live.cluster.name} is not a fleetsync mirror "
        "('epoch')"
    ]


def test_a_rollout_over_the_bound_is_left_out_and_said(live: Live) -> None:
    intents = Intents(suspended=False, at=5.0)
    big = rollout(plan_bytes=MAX_MIRRORED_ROLLOUT)  # twice as many hex digits: half compresses
    left_out = write_intents(
        live.client, live.app, epoch="e2", intents=intents, bundle=None, rollout=big
    )
    assert left_out is not None
    assert re.fullmatch(
        r"the rollout \((\d+) KiB compressed\) is over the 256 KiB the cluster's mirror keeps",
        left_out,
    ), left_out
    mirror = read_intents(live.client, live.app)
    assert mirror == MirroredIntents(epoch="e2", intents=intents, bundle=None)


def test_a_held_bundle_missing_a_part_or_of_another_digest_is_left_out_and_said(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = big_bundle(1_400_000)  # two parts
    parts = -(-len(zlib.compress(bundle.canonical(), 6)) // PART_BYTES)
    assert parts == 2
    write_intents(live.client, live.app, epoch="e1", intents=pinned(bundle), bundle=bundle)
    where = f"{intents_name(live.app)} on cluster {live.cluster.name}"
    # The layout other fleetsync versions read: keys, the part's annotation, 512 KiB parts.
    mirror_secret = live.operator.get(f"{SECRETS}/{intents_name(live.app)}")
    part_secret = live.operator.get(f"{SECRETS}/{part_name(live.app, 1)}")
    assert mirror_secret is not None and part_secret is not None
    assert mirror_secret["type"] == part_secret["type"] == "Opaque"
    assert sorted(mirror_secret["data"]) == ["bundle.zz", "intents.json"]
    assert len(base64.b64decode(mirror_secret["data"]["bundle.zz"])) == 512 * 1024
    assert sorted(part_secret["data"]) == ["part"]
    annotations = part_secret["metadata"]["annotations"]
    assert annotations["fleetsync.io/bundle-digest"] == bundle.digest

    path = f"{SECRETS}/{intents_name(live.app)}"
    other = "0" * 64
    body = {"epoch": "e1", **pinned(bundle).to_json(), "held": other, "parts": parts}
    text = base64.b64encode(json.dumps(body).encode()).decode()
    live.operator.merge_patch(path, {"data": {INTENTS_KEY: text}})
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.bundle is None and mirror.parts == parts
    assert [r.getMessage() for r in caplog.records] == [
        f"{where}: part 1 of the held bundle is missing or stale"
    ], "the part names the bundle it belongs to"

    write_intents(live.client, live.app, epoch="e1", intents=pinned(bundle), bundle=bundle)
    live.operator.delete(f"{SECRETS}/{part_name(live.app, 1)}")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.bundle is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{where}: part 1 of the held bundle is missing or stale"
    ]

    small = big_bundle(1)
    write_intents(live.client, live.app, epoch="e1", intents=pinned(small), bundle=small)
    body = {"epoch": "e1", **pinned(small).to_json(), "held": other, "parts": 1}
    text = base64.b64encode(json.dumps(body).encode()).decode()
    live.operator.merge_patch(path, {"data": {INTENTS_KEY: text}})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.bundle is None and mirror.parts == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"{where}: held bundle's digest is not {other[:12]}; left out"
    ]

    junk = base64.b64encode(b"junk").decode()
    live.operator.merge_patch(path, {"data": {"bundle.zz": junk}})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.kube.intents"):
        mirror = read_intents(live.client, live.app)
    assert mirror is not None and mirror.bundle is None
    assert [r.getMessage() for r in caplog.records] == [
        f"{where}: held bundle unreadable (Error -3 while decompressing data: incorrect header "
        "check)"
    ]
