"""A kubesim for the apply engine's live tests: one server per session, a fresh cluster per test.

`live` hands a test a cluster of its own (declaration, kubesim handle, a connected client) and an
`Operator` that edits objects out of band the way kubectl would, over plain HTTP with the
cluster's token: the engine under test never sees those requests.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetsync.shared.kube.client import ClusterClient, connect, forget_clients
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, Simulator

_names = itertools.count(1)
WRITE_VERBS = ("create", "update", "patch", "apply", "delete", "deletecollection")


@pytest.fixture(scope="session")
def kubesim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(clusters=[], port=0, kubeconfig_dir=tmp_path_factory.mktemp("kubesim")) as sim:
        yield sim


class Operator:
    """Someone editing the cluster by hand: requests as another field manager."""

    def __init__(self, handle: ClusterHandle) -> None:
        self.base = handle.server
        self.token = handle.token

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "", **query: str
    ) -> dict[str, Any]:
        url = self.base + path
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if content_type:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read() or b"{}")
            return result

    def apply(self, path: str, body: Mapping[str, Any], *, manager: str) -> dict[str, Any]:
        return self.request(
            "PATCH",
            path,
            body,
            content_type="application/apply-patch+yaml",
            fieldManager=manager,
            force="true",
        )

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            path,
            body,
            content_type="application/merge-patch+json",
            fieldManager="kubectl-edit",
        )

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise


@dataclass
class Live:
    """One fresh simulated cluster and everything a test needs to drive it."""

    sim: Simulator
    handle: ClusterHandle
    cluster: Cluster
    cache_dir: Path
    client: ClusterClient
    operator: Operator

    def reconnect(self, cache_dir: Path) -> ClusterClient:
        """A client as a fresh engine process would build it (no cached client or discovery)."""
        forget_clients()
        self.client.close()
        self.cache_dir = cache_dir
        self.client = connect(self.cluster, cache_dir=cache_dir, timeout=5.0)
        return self.client

    def writes(self) -> dict[tuple[str, str], int]:
        """Writes of any kind, dry-runs included, by (verb, resource); kubesim counts a dry-run
        under `<verb>-dry-run` (`apply-dry-run`), a write that may change state under its verb."""
        return {
            k: n
            for k, n in self.handle.request_counts().items()
            if k[0].removesuffix("-dry-run") in WRITE_VERBS
        }


@pytest.fixture
def live(kubesim: Simulator, tmp_path: Path) -> Iterator[Live]:
    handle = kubesim.add_cluster(f"k{next(_names):03d}")
    handle.set_controllers(enabled=True, ready_delay=0.1)
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    cache_dir = tmp_path / "kube-cache"
    client = connect(cluster, cache_dir=cache_dir, timeout=5.0)
    current = Live(kubesim, handle, cluster, cache_dir, client, Operator(handle))
    yield current
    forget_clients()
    current.client.close()
    client.close()
    kubesim.remove_cluster(handle.name)
