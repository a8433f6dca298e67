"""The declaration as published: one JSON text for the digest and the publication, the same
JSON (and so the same digest) as the declaration always had, and fleet.yaml composed from one
parse, with libyaml's parser or the Python one alike, held to the same bounds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from fleetsync.shared.fleet import fleet_digest, parse_fleet, publish_form
from fleetsync.shared.fleet.nodes import WITH_LIBYAML, FastFleetLoader, FleetLoader
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.yaml_bounds import BoundsBreached, YamlBounds
from tests.unit.shared import test_fleet, test_fleet_charts, test_fleet_progressive
from tests.unit.shared import test_fleet_variants as variants
from tests.unit.shared.test_fleet_bounds import alias_bomb

BASE = Path("/srv/fleet")

NOTIFIED = test_fleet_progressive.HEADER + (
    "applications:\n"
    "  - {name: web, repository: platform, path: web, targets: {selector: {}}}\n"
    "windows:\n"
    "  - {name: nights, kind: deny, schedule: '0 22 * * *', duration: 8h}\n"
    "notifications:\n"
    "  - {name: ops, url_env: OPS_URL, secret_env: OPS_SECRET, events: [sync-failed]}\n"
)
ROLLOUT = test_fleet_progressive.text(
    "defaults:\n  rollout: {bake: 5m}\n" + test_fleet_progressive.APPS + "    dependsOn: [db]\n"
    "    rollout:\n"
    "      waves:\n"
    "        - {name: canary, selector: {matchLabels: {ring: canary}}}\n"
    "        - {name: rest, percent: '100%'}\n"
    "      onFailure: rollback\n"
)
DECLARATIONS = {
    "contract": test_fleet.CONTRACT,
    "charts": test_fleet_charts.GOOD,
    "variants": variants.GOOD,
    "overrides": variants._fleet(
        "- {name: a, kubeconfig: /k/a.yaml, labels: {size: big}}\n"
        "- {name: b, kubeconfig: /k/b.yaml, labels: {region: us}}\n",
        variants.OVERRIDES,
    ),
    "rollout": ROLLOUT,
    "windows_and_notifications": NOTIFIED,
    # Text beyond ASCII (a path, a cluster value) is published as UTF-8, not \u-escaped.
    "non_ascii": test_fleet.CONTRACT.replace("apps/guestbook", "apps/gästebuch"),
}


def parse(text: str) -> Fleet:
    return parse_fleet(text, source="fleet.yaml", base_dir=BASE)


def asdict_json(fleet: Fleet) -> dict[str, Any]:
    """The declaration's JSON as `dataclasses.asdict` wrote it (the published form so far)."""
    return {
        "repositories": [asdict(r) for _, r in sorted(fleet.repositories.items())],  # type: ignore[call-overload]
        "clusters": [asdict(c) for _, c in sorted(fleet.clusters.items())],  # type: ignore[call-overload]
        "applications": [asdict(a) for _, a in sorted(fleet.applications.items())],  # type: ignore[call-overload]
        "windows": [asdict(w) for w in fleet.windows],
        "default_rollout": asdict(fleet.default_rollout) if fleet.default_rollout else None,
        "notifications": [n.to_json() for n in fleet.notifications],
    }


@pytest.mark.parametrize("text", DECLARATIONS.values(), ids=DECLARATIONS.keys())
def test_the_published_json_is_the_one_asdict_wrote(text: str) -> None:
    fleet = parse(text)
    published = publish_form(fleet)
    assert json.loads(published.body) == json.loads(json.dumps(asdict_json(fleet)))
    assert Fleet.from_json(json.loads(published.body)) == fleet


@pytest.mark.parametrize("text", DECLARATIONS.values(), ids=DECLARATIONS.keys())
def test_the_digest_of_a_declaration_is_the_one_it_always_had(text: str) -> None:
    """A beat upgraded over a running fleet publishes nothing anew for an unchanged file."""
    fleet = parse(text)
    canonical = json.dumps(
        asdict_json(fleet),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    assert fleet_digest(fleet) == hashlib.sha256(canonical.encode()).hexdigest()
    assert publish_form(fleet).digest == fleet_digest(parse(text))


def test_the_digest_is_the_sha256_of_the_body_published() -> None:
    published = publish_form(parse(test_fleet.CONTRACT))
    assert published.digest == hashlib.sha256(published.body.encode()).hexdigest()
    changed = publish_form(parse(test_fleet.CONTRACT.replace("apps/guestbook", "apps/gb")))
    assert changed.digest != published.digest and changed.body != published.body


def test_this_pyyaml_has_libyaml() -> None:
    """The fast parse is what the beat runs here (a PyYAML without it reads fleet.yaml with the
    Python parser alone, as these tests do with `FleetLoader`)."""
    assert WITH_LIBYAML


LOADERS = [FleetLoader, FastFleetLoader]


def bounds() -> YamlBounds:
    return YamlBounds(max_nesting=100, max_alias_expansion=100_000, strict=False)


@pytest.mark.parametrize("loader", LOADERS, ids=["python", "libyaml"])
@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            test_fleet.with_app(alias_bomb()),
            21,
            "YAML aliases expand to more than 100,000 nodes (a YAML bomb?); "
            "write the values out instead of aliasing them",
        ),
        (
            "".join(f"{'  ' * n}k{n}:\n" for n in range(150)) + "  " * 150 + "v\n",
            101,
            "nested deeper than 100 levels",
        ),
    ],
    ids=["alias_bomb", "block_nesting"],
)
def test_each_parser_stops_composing_at_the_first_bound_broken(
    loader: type[FleetLoader], text: str, line: int, problem: str
) -> None:
    composing = loader(text, bounds())
    try:
        with pytest.raises(BoundsBreached) as caught:
            composing.get_single_node()
    finally:
        composing.dispose()
    assert (caught.value.breach.line, caught.value.breach.problem) == (line, problem)


@pytest.mark.parametrize("text", DECLARATIONS.values(), ids=DECLARATIONS.keys())
def test_both_parsers_compose_the_same_tree(text: str) -> None:
    def tree(loader: type[FleetLoader]) -> list[tuple[str, str, int, int]]:
        composing = loader(text, bounds())
        try:
            root = composing.get_single_node()
        finally:
            composing.dispose()
        found, todo = [], [root]
        while todo:
            node = todo.pop()
            found.append((type(node).__name__, node.tag, node.start_mark.line, node.end_mark.line))
            if isinstance(node.value, list):
                for item in node.value:
                    todo.extend(item if isinstance(item, tuple) else (item,))
            else:
                found.append(("value", str(node.value), 0, 0))
        return found

    assert tree(FastFleetLoader) == tree(FleetLoader)
