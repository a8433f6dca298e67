"""Kubeconfig files for simulated clusters: one per cluster and one with a context per cluster."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClusterAccess:
    """How a client reaches one simulated cluster."""

    name: str
    server: str
    token: str


def render_kubeconfig(access: Sequence[ClusterAccess], current: str) -> str:
    """A kubeconfig (JSON, which every YAML reader accepts) with one context per cluster."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": a.name, "cluster": {"server": a.server}} for a in access],
        "users": [{"name": a.name, "user": {"token": a.token}} for a in access],
        "contexts": [
            {"name": a.name, "context": {"cluster": a.name, "user": a.name, "namespace": "default"}}
            for a in access
        ],
        "current-context": current,
    }
    return json.dumps(doc, indent=2) + "\n"


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def write_kubeconfig(directory: Path, access: ClusterAccess) -> Path:
    path = directory / f"{access.name}.kubeconfig"
    _write(path, render_kubeconfig([access], access.name))
    return path


def write_combined_kubeconfig(directory: Path, access: Sequence[ClusterAccess]) -> Path:
    path = directory / "_combined.kubeconfig"
    _write(path, render_kubeconfig(access, access[0].name if access else ""))
    return path
