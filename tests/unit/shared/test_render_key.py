"""The render key: equal inputs share one render, any input that changes the output changes the
key. It decides whether a commit costs a render, so both directions matter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.declaration import (
    Application,
    DirectoryOptions,
    Fleet,
    HelmOptions,
    JsonnetOptions,
    RendererKind,
    SyncPolicy,
    ValuesFrom,
)
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.source import render_at, render_key

TREES = {"apps/web": "a" * 40, "charts/common": "b" * 40}


def _app(name: str = "web", **changes: object) -> Application:
    app = Application(name=AppName(name), repository=RepoName("platform"), path="apps/web")
    return replace(app, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("renderer", [RendererKind.PLAIN, RendererKind.KUSTOMIZE])
def test_applications_that_read_the_same_inputs_share_one_render(renderer: RendererKind) -> None:
    assert render_key(_app("web", renderer=renderer), TREES) == render_key(
        _app("web-copy", renderer=renderer), TREES
    )


@pytest.mark.parametrize("renderer", [RendererKind.AUTO, RendererKind.HELM])
def test_a_chart_s_release_defaults_to_the_application_name_and_so_keys_it(
    renderer: RendererKind,
) -> None:
    web, api = _app("web", renderer=renderer), _app("api", renderer=renderer)
    assert render_key(web, TREES) != render_key(api, TREES)
    named = HelmOptions(release="shared")
    assert render_key(replace(web, helm=named), TREES) == render_key(
        replace(api, helm=named), TREES
    )
    assert render_key(replace(web, helm=HelmOptions(release="web")), TREES) == render_key(
        web, TREES
    )


CHANGES: list[dict[str, object]] = [
    {"path": "apps/other"},
    {"namespace": "web"},
    {"renderer": RendererKind.KUSTOMIZE},
    {"helm": HelmOptions(values={"replicas": 2})},
    {"helm": HelmOptions(values_files=("prod.yaml",))},
    {"helm": HelmOptions(values_from=ValuesFrom(RepoName("values"), "web.yaml"))},
    {"helm": HelmOptions(values_from=ValuesFrom(RepoName("values"), "api.yaml"))},
    {"directory": DirectoryOptions(recurse=False)},
    {"directory": DirectoryOptions(exclude=("*.txt",))},
    {"jsonnet": JsonnetOptions(libs=("vendor",))},
    {"jsonnet": JsonnetOptions(libs=("lib",))},
    {"sync": SyncPolicy(allow_empty=True)},
]


@pytest.mark.parametrize(
    "change",
    CHANGES,
    ids=[
        "path",
        "namespace",
        "renderer",
        "values",
        "values-files",
        "values-from",
        "values-from-another",
        "directory",
        "directory-exclude",
        "jsonnet",
        "jsonnet-libs",
        "allow-empty",
    ],
)
def test_every_render_option_is_part_of_the_key(change: dict[str, object]) -> None:
    app = _app(renderer=RendererKind.PLAIN)
    assert render_key(replace(app, **change), TREES) != render_key(app, TREES)  # type: ignore[arg-type]


def test_each_render_option_keys_its_own_render() -> None:
    app = _app(renderer=RendererKind.PLAIN)
    keys = [render_key(replace(app, **change), TREES) for change in CHANGES]  # type: ignore[arg-type]
    assert len(set(keys)) == len(CHANGES)


def test_any_input_tree_that_moves_changes_the_key_and_their_order_does_not() -> None:
    app = _app()
    moved = {**TREES, "charts/common": "c" * 40}
    assert render_key(app, moved) != render_key(app, TREES)
    assert render_key(app, dict(reversed(list(TREES.items())))) == render_key(app, TREES)
    assert render_key(app, {**TREES, "values/prod.yaml": None}) != render_key(app, TREES)


def test_rendering_an_undeclared_application_names_the_declared_ones(tmp_path: Path) -> None:
    web, api = _app("web"), _app("api")
    fleet = Fleet(applications={web.name: web, api.name: api})
    with pytest.raises(PermanentError) as unknown:
        render_at(fleet, AppName("shop"), revision=None, mirror_dir=tmp_path)
    assert str(unknown.value) == "shop: no such application; declared applications: api, web"
    with pytest.raises(PermanentError, match=r"declared applications: none$"):
        render_at(Fleet(), AppName("shop"), revision=None, mirror_dir=tmp_path)
