"""Clusters for the apply engine's live tests: kubesim and real API servers, behind one fixture.

`live` runs a test twice: on a fresh kubesim cluster (one kubesim server per session) and on one
of the session's real clusters (`real_clusters`, kube-apiserver + kube-controller-manager +
etcd, no kubelet: Pods never run, so Deployments stay Progressing). The real clusters are shared
by every test of the session, so a test isolates itself by the names `Live` hands out: its own
namespace (`live.ns`), application (`live.app`, `live.app_named`) and cluster-scoped names
(`live.unique`, `live.group` for a CRD's API group). What they leave behind goes with the
clusters at the end of the session. `kubesim_only` and `real_only` mark a test for one kind:
request counters and faults exist on kubesim alone, and some refusals only a real server makes.

`Live.operator` edits objects out of band the way kubectl would, over plain HTTP with the
cluster's credentials: the engine under test never sees those requests. `Live.calls` records the
writes the engine's client makes (applies, dry-runs included, and deletes), on either kind of
cluster; the client is the one a reconcile given `live.cache_dir` connects with too.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsync.shared.kube.client import ApiResource, ClusterClient, connect, forget_clients
from fleetsync.shared.model import ResourceKey
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.reconcile import REQUEST_TIMEOUT
from kubesim import ClusterHandle, Simulator
from tests.support.realk8s import RealClusters

_names = itertools.count(1)
WRITE_VERBS = ("create", "update", "patch", "apply", "delete", "deletecollection")
BACKENDS = ("kubesim", "real")

kubesim_only = pytest.mark.parametrize("live", ["kubesim"], indirect=True)
"""For what only kubesim has: request counters, faults, a cluster of the test's own."""
real_only = pytest.mark.parametrize("live", ["real"], indirect=True)
"""For what only a real API server does (the test says what kubesim does instead)."""


@pytest.fixture(scope="session")
def kubesim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(clusters=[], port=0, kubeconfig_dir=tmp_path_factory.mktemp("kubesim")) as sim:
        yield sim


class Operator:
    """Someone editing the cluster by hand: requests as another field manager."""

    def __init__(self, server: str, token: str, ca_data: str | None = None) -> None:
        self.base = server.rstrip("/")
        self.token = token
        self.context = None
        if ca_data:
            self.context = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode())

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
        with urllib.request.urlopen(req, timeout=10, context=self.context) as resp:
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

    def merge_patch(self, path: str, body: Mapping[str, Any], **query: str) -> dict[str, Any]:
        return self.request(
            "PATCH",
            path,
            body,
            content_type="application/merge-patch+json",
            fieldManager="kubectl-edit",
            **query,
        )

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body, content_type="application/json")

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise


@dataclass(frozen=True)
class Call:
    """One write the engine's client made."""

    verb: str
    """apply, dry-run or delete"""
    key: str
    """`group/Kind/namespace/name`"""


@dataclass
class Live:
    """One cluster, kubesim or real, and everything a test needs to drive it."""

    backend: str
    cluster: Cluster
    cache_dir: Path
    client: ClusterClient
    operator: Operator
    suffix: str
    handle: ClusterHandle | None = None
    calls: list[Call] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return self.handle is not None

    @property
    def sim(self) -> ClusterHandle:
        """The kubesim cluster (request counters, faults): kubesim-only tests."""
        assert self.handle is not None, "a kubesim-only helper used on a real cluster"
        return self.handle

    @property
    def ns(self) -> str:
        """This test's namespace."""
        return f"web-{self.suffix}"

    @property
    def app(self) -> str:
        """This test's application."""
        return self.app_named("web")

    def app_named(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    def unique(self, name: str) -> str:
        """A cluster-scoped name of this test's own."""
        return f"{name}-{self.suffix}"

    @property
    def group(self) -> str:
        """An API group of this test's own, for its CRDs."""
        return f"t{self.suffix}.example.com"

    def key(self, text: str) -> ResourceKey:
        return ResourceKey.parse(text)

    def reconnect(self, cache_dir: Path) -> ClusterClient:
        """A client as a fresh engine process would build it (no cached client or discovery)."""
        forget_clients()
        self.client.close()
        self.cache_dir = cache_dir
        self.client = _recording(
            connect(self.cluster, cache_dir=cache_dir, timeout=REQUEST_TIMEOUT), self
        )
        return self.client

    def writes(self) -> dict[tuple[str, str], int]:
        """kubesim's count of writes of any kind, dry-runs included, by (verb, resource); kubesim
        counts a dry-run under `<verb>-dry-run` (`apply-dry-run`)."""
        return {
            k: n
            for k, n in self.sim.request_counts().items()
            if k[0].removesuffix("-dry-run") in WRITE_VERBS
        }

    def engine_writes(self, *verbs: str) -> list[Call]:
        """The engine's writes (all, or those of `verbs`), outside the inventory namespace."""
        return [
            c
            for c in self.calls
            if (not verbs or c.verb in verbs) and "/fleetsync-system/" not in c.key
        ]


def _recording(client: ClusterClient, live: Live) -> ClusterClient:
    """Record the client's writes in `live.calls` (a spy on the real client: requests still go
    to the cluster)."""
    apply, delete = client.apply, client.delete

    def recorded_apply(resource: ApiResource, obj: Mapping[str, Any], **kw: Any) -> Any:
        key = _key(resource, obj["metadata"]["name"], obj["metadata"].get("namespace", ""))
        live.calls.append(Call("dry-run" if kw.get("dry_run") else "apply", key))
        return apply(resource, obj, **kw)

    def recorded_delete(resource: ApiResource, *, name: str, namespace: str = "", **kw: Any) -> Any:
        live.calls.append(Call("delete", _key(resource, name, namespace)))
        return delete(resource, name=name, namespace=namespace, **kw)

    setattr(client, "apply", recorded_apply)  # noqa: B010
    setattr(client, "delete", recorded_delete)  # noqa: B010
    return client


def _key(resource: ApiResource, name: str, namespace: str) -> str:
    return f"{resource.group or 'core'}/{resource.kind}/{namespace or '_'}/{name}"


def _kubesim_live(sim: Simulator, tmp_path: Path) -> Iterator[Live]:
    handle = sim.add_cluster(f"k{next(_names):03d}")
    handle.set_controllers(enabled=True, ready_delay=0.1)
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(sim.kubeconfig_path(handle.name))
    )
    yield from _live("kubesim", cluster, Operator(handle.server, handle.token), tmp_path, handle)
    sim.remove_cluster(handle.name)


def _real_live(clusters: RealClusters, tmp_path: Path) -> Iterator[Live]:
    index = next(_names) % len(clusters.names)
    kubeconfig = clusters.kubeconfig(index)
    config = yaml.safe_load(kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]
    operator = Operator(
        server["server"],
        config["users"][0]["user"]["token"],
        server.get("certificate-authority-data"),
    )
    cluster = Cluster(name=ClusterName(clusters.names[index]), kubeconfig=str(kubeconfig))
    yield from _live("real", cluster, operator, tmp_path, None)


def _live(
    backend: str, cluster: Cluster, operator: Operator, tmp_path: Path, handle: ClusterHandle | None
) -> Iterator[Live]:
    cache_dir = tmp_path / "kube-cache"
    current = Live(
        backend=backend,
        cluster=cluster,
        cache_dir=cache_dir,
        client=None,  # type: ignore[arg-type]
        operator=operator,
        suffix=uuid.uuid4().hex[:8],
        handle=handle,
    )
    current.client = _recording(
        connect(cluster, cache_dir=cache_dir, timeout=REQUEST_TIMEOUT), current
    )
    yield current
    forget_clients()
    current.client.close()


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """A test's cluster: kubesim, then a real API server."""
    if request.param == "kubesim":
        yield from _kubesim_live(request.getfixturevalue("kubesim"), tmp_path)
    else:
        yield from _real_live(request.getfixturevalue("real_clusters"), tmp_path)


@pytest.fixture
def kubesim_live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """A kubesim cluster only, for a module that overrides `live` with it (where some tests
    take no cluster, so that `kubesim_only` cannot mark the whole module)."""
    yield from _kubesim_live(request.getfixturevalue("kubesim"), tmp_path)
