"""Dispatch: auto-detection, renderer versions for the render key, and determinism."""

from __future__ import annotations

import re

import pytest

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import detect_renderer, renderer_version
from tests.unit.shared.render.repos import Repo, configmap


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["kustomization.yaml", "cm.yaml"], RendererKind.KUSTOMIZE),
        (["kustomization.yml"], RendererKind.KUSTOMIZE),
        (["Kustomization"], RendererKind.KUSTOMIZE),
        (["Chart.yaml", "values.yaml", "templates"], RendererKind.HELM),
        (["Chart.yaml", "kustomization.yaml"], RendererKind.KUSTOMIZE),
        (["deploy.yaml", "chart.yaml", "Kustomization.yaml"], RendererKind.PLAIN),
        ([], RendererKind.PLAIN),
    ],
)
def test_auto_detection_picks_kustomize_then_helm_then_plain(
    files: list[str], expected: RendererKind
) -> None:
    assert detect_renderer(files) is expected


def test_auto_renderer_is_resolved_in_the_result(repo: Repo) -> None:
    repo.write(
        {
            "k/kustomization.yaml": "resources: [cm.yaml]\n",
            "k/cm.yaml": configmap("k"),
            "h/Chart.yaml": "apiVersion: v2\nname: h\nversion: 0.1.0\n",
            "h/templates/cm.yaml": configmap("h"),
            "p/cm.yaml": configmap("p"),
        }
    )
    assert repo.render("k").renderer is RendererKind.KUSTOMIZE
    assert repo.render("h").renderer is RendererKind.HELM
    assert repo.render("p").renderer is RendererKind.PLAIN


def test_renderer_versions_are_stable_strings() -> None:
    assert renderer_version(RendererKind.PLAIN) == "plain/1"
    assert re.fullmatch(r"kustomize/v1\.37\.\d+/1", renderer_version(RendererKind.KUSTOMIZE))
    assert re.fullmatch(r"helm/v4\.\d+\.\d+/1", renderer_version(RendererKind.HELM))
    for kind in (RendererKind.PLAIN, RendererKind.KUSTOMIZE, RendererKind.HELM):
        assert renderer_version(kind) == renderer_version(kind)


def test_auto_is_not_a_renderer_version() -> None:
    with pytest.raises(ValueError, match="auto"):
        renderer_version(RendererKind.AUTO)


@pytest.mark.parametrize(
    ("app", "kind"),
    [("p", RendererKind.PLAIN), ("k", RendererKind.KUSTOMIZE), ("h", RendererKind.HELM)],
)
def test_the_same_input_renders_the_same_bundle_digest_twice(
    repo: Repo, app: str, kind: RendererKind
) -> None:
    repo.write(
        {
            "p/b.yaml": configmap("b") + "data: {z: '1', a: '2'}\n",
            "p/a.yaml": configmap("a"),
            "k/kustomization.yaml": "resources: [b.yaml, a.yaml]\n",
            "k/b.yaml": configmap("b") + "data: {z: '1', a: '2'}\n",
            "k/a.yaml": configmap("a"),
            "h/Chart.yaml": "apiVersion: v2\nname: h\nversion: 0.1.0\n",
            "h/templates/cm.yaml": configmap("{{ .Release.Name }}"),
        }
    )
    first = repo.render(app, namespace="guestbook")
    second = repo.render(app, namespace="guestbook")
    assert first.renderer is kind
    assert first.bundle.objects
    assert first.bundle.digest == second.bundle.digest
    assert first.inputs == second.inputs
