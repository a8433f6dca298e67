"""The plain renderer: every manifest file under the path, as written."""

from __future__ import annotations

import json

import pytest

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import RenderError, RenderLimits
from tests.unit.shared.render.repos import Repo, configmap, names


def test_plain_reads_every_manifest_under_the_path_recursively_with_all_documents(
    repo: Repo,
) -> None:
    repo.write(
        {
            "apps/guestbook/b.yaml": configmap("b") + "---\n---\n" + configmap("c"),
            "apps/guestbook/nested/deeper/a.yml": configmap("a"),
            "apps/guestbook/nested/d.json": json.dumps(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "d"}}
            ),
            "apps/guestbook/README.md": "not a manifest",
            "apps/other/e.yaml": configmap("e"),
        }
    )
    result = repo.render("apps/guestbook", renderer=RendererKind.PLAIN)
    assert result.renderer is RendererKind.PLAIN
    assert names(result) == [
        "core/ConfigMap/_/a",
        "core/ConfigMap/_/b",
        "core/ConfigMap/_/c",
        "core/Secret/_/d",
    ]
    assert result.inputs == ("apps/guestbook",)


def test_plain_reads_files_in_sorted_path_order(repo: Repo) -> None:
    repo.write(
        {
            "app/z.yaml": configmap("same"),
            "app/a/m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n",
        }
    )
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value).startswith("guestbook: app/a/m.yaml:1: duplicate object")
    assert "app/z.yaml:1" in str(caught.value)


def test_plain_means_plain_even_beside_a_kustomization(repo: Repo) -> None:
    repo.write(
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: p-\n",
            "app/cm.yaml": configmap("cm"),
        }
    )
    result = repo.render("app", renderer=RendererKind.PLAIN)
    assert names(result) == ["core/ConfigMap/_/cm"]
    assert result.warnings == ("app/kustomization.yaml: kustomize's configuration: skipped",)


def test_binary_file_with_a_yaml_name_is_not_a_text_file(repo: Repo) -> None:
    repo.write({"app/logo.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"})
    with pytest.raises(RenderError, match=r"^guestbook: app/logo.yaml: not a text file"):
        repo.render("app")


def test_invalid_utf8_with_a_yaml_name_is_not_a_text_file(repo: Repo) -> None:
    repo.write({"app/latin1.yaml": "apiVersion: v1\n# caf\xe9\n".encode("latin-1")})
    with pytest.raises(RenderError, match=r"app/latin1.yaml: not a text file \(invalid UTF-8"):
        repo.render("app")


def test_file_over_the_size_bound_is_refused(repo: Repo) -> None:
    repo.write({"app/big.yaml": configmap("big") + "data:\n  k: " + "x" * 2048 + "\n"})
    with pytest.raises(
        RenderError, match=r"app/big.yaml: file is \d+ bytes, over the 1024 bytes limit"
    ):
        repo.render("app", limits=RenderLimits(max_file_bytes=1024))


def test_files_over_the_total_bound_are_refused(repo: Repo) -> None:
    repo.write({f"app/{i}.yaml": configmap(f"cm{i}") for i in range(5)})
    with pytest.raises(RenderError, match=r"files exceed the .* limit"):
        repo.render("app", limits=RenderLimits(max_total_bytes=150))


def test_more_objects_than_the_bound_are_refused(repo: Repo) -> None:
    repo.write({"app/many.yaml": "---\n".join(configmap(f"cm{i}") for i in range(4))})
    with pytest.raises(RenderError, match=r"^guestbook: app: renders 4 objects, over the 3 limit"):
        repo.render("app", limits=RenderLimits(max_objects=3))
