"""Directory options and repositories that hold more than manifests, as users write them."""

from __future__ import annotations

import pytest

from fleetsync.shared.model.declaration import DirectoryOptions, RendererKind
from fleetsync.shared.render import RenderError
from fleetsync.shared.render.plain import matches
from tests.unit.shared.render.repos import Repo, configmap, names

RANCHER_FLEET_YAML = """\
defaultNamespace: guestbook
helm:
  releaseName: guestbook
targetCustomizations:
  - name: prod
    clusterSelector: {matchLabels: {env: prod}}
"""
README_YAML = """\
# What this directory holds
title: guestbook
owners: [web-team]
"""
FLUX_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
"""


def test_a_directory_mixing_manifests_with_other_tools_files_renders_its_objects_and_warns(
    repo: Repo,
) -> None:
    repo.write(
        {
            "app/fleet.yaml": RANCHER_FLEET_YAML,
            "app/README.yaml": README_YAML,
            "app/web.yaml": configmap("web"),
            "app/nested/kustomization.yaml": FLUX_KUSTOMIZATION,
            "app/nested/deployment.yaml": configmap("nested"),
            "app/values.json": '{"replicas": 2}',
        }
    )
    result = repo.render("app")
    assert names(result) == ["core/ConfigMap/_/nested", "core/ConfigMap/_/web"]
    assert result.warnings == (
        "app/README.yaml: not a Kubernetes object (no apiVersion or kind): skipped",
        "app/fleet.yaml: not a Kubernetes object (no apiVersion or kind): skipped",
        "app/nested/kustomization.yaml: kustomize's configuration: skipped",
        "app/values.json: not a Kubernetes object (no apiVersion or kind): skipped",
    )


def test_strict_makes_the_first_file_without_an_object_an_error(repo: Repo) -> None:
    repo.write({"app/fleet.yaml": RANCHER_FLEET_YAML, "app/web.yaml": configmap("web")})
    with pytest.raises(RenderError) as caught:
        repo.render("app", directory=DirectoryOptions(strict=True))
    assert str(caught.value) == (
        "guestbook: app/fleet.yaml: not a Kubernetes object (no apiVersion or kind); remove it "
        "or exclude it (directory.exclude), or unset directory.strict"
    )


def test_a_render_that_finds_no_object_names_the_renderer_and_the_files(repo: Repo) -> None:
    repo.write(
        {
            "app/values.yaml": "replicas: 2\n",
            "app/README.yaml": README_YAML,
            "app/plugin.sh": "#!/bin/sh\necho hi\n",
        }
    )
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value) == (
        "guestbook: app: plain: 3 files, none with a Kubernetes object: README.yaml, plugin.sh, "
        "values.yaml; nothing to apply (set sync.allowEmpty: true if the application is empty "
        "on purpose, or choose its renderer)"
    )


def test_allow_empty_accepts_a_render_without_objects(repo: Repo) -> None:
    repo.write({"app/.gitkeep": ""})
    assert repo.render("app", allow_empty=True).bundle.objects == ()


def test_without_recurse_only_the_top_directory_is_read(repo: Repo) -> None:
    repo.write({"app/top.yaml": configmap("top"), "app/sub/deep.yaml": configmap("deep")})
    assert names(repo.render("app")) == ["core/ConfigMap/_/deep", "core/ConfigMap/_/top"]
    flat = repo.render("app", directory=DirectoryOptions(recurse=False))
    assert names(flat) == ["core/ConfigMap/_/top"]


def test_include_and_exclude_choose_files_with_argo_cd_globs(repo: Repo) -> None:
    repo.write(
        {
            "app/config.yaml": configmap("config"),
            "app/env-use2/a.yaml": configmap("use2"),
            "app/env-euw1/a.yaml": configmap("euw1"),
            "app/env-use2/test-a.yaml": configmap("test"),
        }
    )
    options = DirectoryOptions(include=("{config.yaml,env-use2/*}",), exclude=("test-*",))
    assert names(repo.render("app", directory=options)) == [
        "core/ConfigMap/_/config",
        "core/ConfigMap/_/use2",
    ]


def test_an_include_glob_that_matches_nothing_is_an_error_listing_the_files(repo: Repo) -> None:
    repo.write({"app/web.yaml": configmap("web")})
    with pytest.raises(RenderError) as caught:
        repo.render("app", directory=DirectoryOptions(include=("manifests/*.yml",)))
    assert str(caught.value) == (
        "guestbook: app: directory.include 'manifests/*.yml' matches no file "
        "(the directory has 1 file: web.yaml)"
    )


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "sub/a.yaml", True),
        ("sub/*.yaml", "sub/a.yaml", True),
        ("sub/*.yaml", "sub/deeper/a.yaml", False),
        ("**/a.yaml", "x/y/a.yaml", True),
        ("**/a.yaml", "a.yaml", True),
        ("{a,b}.yaml", "b.yaml", True),
        ("[!a]*.yaml", "a.yaml", False),
        ("?.yaml", "ab.yaml", False),
    ],
)
def test_globs_match_as_documented(glob: str, path: str, expected: bool) -> None:
    assert matches(glob, path) is expected


def test_explicit_plain_ignores_a_top_level_kustomization_and_says_so(repo: Repo) -> None:
    repo.write({"app/kustomization.yaml": FLUX_KUSTOMIZATION, "app/cm.yaml": configmap("cm")})
    result = repo.render("app", renderer=RendererKind.PLAIN)
    assert names(result) == ["core/ConfigMap/_/cm"]
    assert result.warnings == ("app/kustomization.yaml: kustomize's configuration: skipped",)
