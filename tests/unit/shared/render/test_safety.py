"""Confinement: no render reads outside the checkout root, whatever the renderer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import RenderError
from tests.unit.shared.render.repos import Repo, configmap, names

APPS = {
    RendererKind.PLAIN: {"app/cm.yaml": configmap("cm")},
    RendererKind.KUSTOMIZE: {
        "app/kustomization.yaml": "resources: [cm.yaml]\n",
        "app/cm.yaml": configmap("cm"),
    },
    RendererKind.HELM: {
        "app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        "app/templates/cm.yaml": configmap("cm"),
    },
}
MANIFEST_DIR = {
    RendererKind.PLAIN: "app",
    RendererKind.KUSTOMIZE: "app",
    RendererKind.HELM: "app/templates",
}
renderers = pytest.mark.parametrize("renderer", list(APPS), ids=lambda r: r.value)


def test_path_that_does_not_exist_is_a_render_error(repo: Repo) -> None:
    with pytest.raises(RenderError) as caught:
        repo.render("apps/missing")
    assert str(caught.value) == (
        "guestbook: apps/missing: path does not exist in the repository at this revision"
    )


def test_path_that_escapes_the_root_with_dotdot_is_refused(repo: Repo, outside: Path) -> None:
    repo.write({"apps/a.yaml": configmap("a")})
    with pytest.raises(RenderError) as caught:
        repo.render("apps/../../outside")
    assert str(caught.value) == (
        "guestbook: apps/../../outside: 'apps/../../outside' is outside the repository"
    )


def test_path_that_escapes_the_root_through_a_symlink_is_refused(repo: Repo, outside: Path) -> None:
    repo.write({"apps/a.yaml": configmap("a")})
    os.symlink(outside, repo.root / "apps" / "link")
    with pytest.raises(
        RenderError, match=r"^guestbook: apps/link: .* leads outside the repository"
    ):
        repo.render("apps/link")


@renderers
def test_file_symlink_pointing_outside_the_root_is_refused(
    repo: Repo, outside: Path, renderer: RendererKind
) -> None:
    repo.write(APPS[renderer])
    link = repo.root / MANIFEST_DIR[renderer] / "stolen.yaml"
    os.symlink(outside / "secret.yaml", link)
    with pytest.raises(RenderError) as caught:
        repo.render("app", renderer=renderer)
    shown = link.relative_to(repo.root).as_posix()
    assert str(caught.value) == (
        f"guestbook: {shown}: symlink to '{outside}/secret.yaml' leads outside the repository"
    )


@renderers
def test_directory_symlink_pointing_outside_the_root_is_refused(
    repo: Repo, outside: Path, renderer: RendererKind
) -> None:
    repo.write(APPS[renderer])
    link = repo.root / MANIFEST_DIR[renderer] / "more"
    os.symlink(os.path.relpath(outside, link.parent), link)
    with pytest.raises(RenderError) as caught:
        repo.render("app", renderer=renderer)
    assert str(caught.value).startswith(
        f"guestbook: {link.relative_to(repo.root).as_posix()}: symlink to '"
    )
    assert str(caught.value).endswith("' leads outside the repository")


@pytest.mark.parametrize("renderer", [RendererKind.PLAIN, RendererKind.HELM], ids=str)
def test_file_symlink_inside_the_root_is_followed_and_its_target_reported_as_an_input(
    repo: Repo, renderer: RendererKind
) -> None:
    repo.write({**APPS[renderer], "shared/extra.yaml": configmap("extra")})
    os.symlink(
        "../" * MANIFEST_DIR[renderer].count("/") + "../shared/extra.yaml",
        repo.root / MANIFEST_DIR[renderer] / "extra.yaml",
    )
    result = repo.render("app", renderer=renderer)
    assert names(result) == ["core/ConfigMap/_/cm", "core/ConfigMap/_/extra"]
    assert result.inputs == ("app", "shared/extra.yaml")


def test_symlink_cycles_are_walked_once(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("cm")})
    os.symlink(".", repo.root / "app" / "again")
    assert names(repo.render("app")) == ["core/ConfigMap/_/cm"]


def test_kustomize_base_reached_through_a_symlink_is_staged_and_reported_as_an_input(
    repo: Repo,
) -> None:
    repo.write(
        {
            "app/kustomization.yaml": "resources: [base]\nnamePrefix: app-\n",
            "shared/base/kustomization.yaml": "resources: [cm.yaml, ../more]\n",
            "shared/base/cm.yaml": configmap("cm"),
            "shared/more/kustomization.yaml": "resources: [cm.yaml]\n",
            "shared/more/cm.yaml": configmap("more"),
        }
    )
    os.symlink("../shared/base", repo.root / "app" / "base")
    result = repo.render("app")
    assert names(result) == ["core/ConfigMap/_/app-cm", "core/ConfigMap/_/app-more"]
    assert result.inputs == ("app", "shared/base", "shared/more")
