"""The kustomize renderer: the wheel's kubectl on a staged copy of exactly the inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import Limit, RenderError, RenderLimitExceeded, RenderLimits
from tests.unit.shared.render.repos import Repo, by_name, configmap, names

BASE = {
    "base/kustomization.yaml": "resources: [cm.yaml]\n",
    "base/cm.yaml": configmap("settings") + "data: {color: blue}\n",
}


def test_overlay_over_a_sibling_base_renders_and_reports_both_directories_as_inputs(
    repo: Repo,
) -> None:
    repo.write(
        {
            **BASE,
            "overlays/prod/kustomization.yaml": """
                resources: [../../base]
                namePrefix: prod-
                patches:
                  - path: color.yaml
                """,
            "overlays/prod/color.yaml": configmap("settings") + "data: {color: red}\n",
            "unrelated/cm.yaml": configmap("unrelated"),
        }
    )
    result = repo.render("overlays/prod", namespace="guestbook")
    assert result.renderer is RendererKind.KUSTOMIZE
    assert names(result) == ["core/ConfigMap/guestbook/prod-settings"]
    assert by_name(result, "prod-settings")["data"] == {"color": "red"}
    assert result.inputs == ("base", "overlays/prod")


def test_components_are_followed_and_reported_as_inputs(repo: Repo) -> None:
    repo.write(
        {
            **BASE,
            "app/kustomization.yaml": "resources: [../base]\ncomponents: [../parts/label]\n",
            "parts/label/kustomization.yaml": """
                apiVersion: kustomize.config.k8s.io/v1alpha1
                kind: Component
                labels:
                  - pairs: {team: web}
                """,
        }
    )
    result = repo.render("app")
    assert by_name(result, "settings")["metadata"]["labels"] == {"team": "web"}
    assert result.inputs == ("app", "base", "parts/label")


def test_kustomize_build_failure_is_a_render_error_naming_the_app_with_relative_paths(
    repo: Repo,
) -> None:
    repo.write({"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    message = str(caught.value)
    assert message.startswith("guestbook: app: kustomize build failed: ")
    assert "missing.yaml" in message
    assert "fleetsync-kustomize" not in message
    assert str(repo.root) not in message


def test_base_outside_the_root_is_refused_before_kustomize_runs(repo: Repo, outside: Path) -> None:
    (outside / "kustomization.yaml").write_text("resources: [secret.yaml]\n")
    repo.write({"app/kustomization.yaml": "resources: [../../outside]\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value) == (
        "guestbook: app/kustomization.yaml: '../../outside' is outside the repository"
    )


def test_remote_base_is_refused(repo: Repo) -> None:
    repo.write(
        {
            "app/kustomization.yaml": (
                "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/hello\n"
            )
        }
    )
    with pytest.raises(RenderError, match=r"app/kustomization.yaml: resources entry .* is remote"):
        repo.render("app")


def test_kustomize_build_over_the_timeout_is_stopped(repo: Repo) -> None:
    repo.write(BASE)
    with pytest.raises(RenderLimitExceeded) as caught:
        repo.render("base", limits=RenderLimits(timeout_seconds=0.001))
    assert caught.value.limit is Limit.TIME
    assert str(caught.value) == (
        "guestbook: base: render exceeded its 0.001 s time limit;"
        " make it lighter or raise FLEETSYNC_RENDER_TIMEOUT"
    )


def test_kustomize_output_over_the_bound_is_refused(repo: Repo) -> None:
    repo.write(BASE)
    with pytest.raises(
        RenderLimitExceeded, match=r"^guestbook: base: render output exceeded its 16 bytes limit"
    ):
        repo.render("base", limits=RenderLimits(max_output_bytes=16))


def test_each_object_keeps_its_file_and_nothing_of_it_is_in_the_objects(repo: Repo) -> None:
    repo.write(
        {
            **BASE,
            "app/kustomization.yaml": """
                resources: [../base, extra.yaml]
                configMapGenerator: [{name: generated, literals: [k=v]}]
                """,
            "app/extra.yaml": configmap("extra") + "  annotations: {keep: 'yes'}\n",
        }
    )
    result = repo.render("app")
    files = dict(zip((str(k) for k in result.bundle.keys), result.bundle.sources, strict=True))
    generated = next(k for k in files if "/generated-" in k)
    assert files == {
        "core/ConfigMap/_/extra": "app/extra.yaml",
        generated: "app/kustomization.yaml",
        "core/ConfigMap/_/settings": "base/cm.yaml",
    }
    assert by_name(result, "extra")["metadata"]["annotations"] == {"keep": "yes"}
    assert "annotations" not in by_name(result, "settings")["metadata"]
    assert "config.kubernetes.io/origin" not in str(result.bundle.objects)
    assert (repo.root / "app/kustomization.yaml").read_text().count("buildMetadata") == 0


def test_a_kustomization_that_asks_for_build_metadata_itself_keeps_its_annotations(
    repo: Repo,
) -> None:
    repo.write(
        {
            **BASE,
            "app/kustomization.yaml": "resources: [../base]\nbuildMetadata: [originAnnotations]\n",
        }
    )
    result = repo.render("app")
    origin = by_name(result, "settings")["metadata"]["annotations"]["config.kubernetes.io/origin"]
    assert "../base/cm.yaml" in origin
