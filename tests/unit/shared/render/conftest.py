"""Fixtures: a checkout root in tmp_path, and a directory outside it that must never be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.shared.render.repos import Repo, configmap


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "checkout"
    root.mkdir()
    return Repo(root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the checkout, holding a manifest nothing may read."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.yaml").write_text(configmap("stolen"))
    return path
