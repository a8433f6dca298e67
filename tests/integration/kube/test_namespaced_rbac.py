"""Namespaced credentials on a real kube-apiserver: a service account that may read and write
ConfigMaps in two namespaces (and its records in fleetsync-system), but may not list them
across the cluster. The engine's cluster-wide LIST is refused with a real 403, and it falls back
to one LIST per namespace instead of failing the sync. A write RBAC refuses in one namespace is
that object's failure, never the cluster's: a batch of the cluster's applications goes on."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

from fleetsync.shared.kube.client import ClusterClient, connect, forget_clients
from fleetsync.shared.kube.prune import prune_stale
from fleetsync.shared.kube.sync import SyncResult, sync_application
from fleetsync.shared.model import ChangeAction
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    Cluster,
    ReplacePolicy,
    SyncPolicy,
)
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.inventory import EMPTY, Inventory
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from tests.integration.kube.batches import reconcile_in_one_batch
from tests.integration.kube.manifests import config_map
from tests.support.realk8s import RealClusters
from tests.support.waiting import wait_for

REV = Revision(ref="main", sha="1" * 40)
CONFIGMAP_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _api(kubeconfig: Path) -> Any:
    return k8s_config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]


class Admin:
    def __init__(self, kubeconfig: Path) -> None:
        self.dyn = DynamicClient(_api(kubeconfig))
        self.kubeconfig = json.loads(kubeconfig.read_text())

    def apply(self, body: dict[str, Any]) -> None:
        resource = self.dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
        with contextlib.suppress(ConflictError):  # already there (fleetsync-system)
            resource.create(body=body, namespace=body["metadata"].get("namespace"))

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        resource = self.dyn.resources.get(api_version=api_version, kind=kind)
        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None


def _sync(
    client: ClusterClient,
    objects: list[Any],
    app: str,
    previous: Inventory = EMPTY,
    policy: SyncPolicy | None = None,
) -> SyncResult:
    return sync_application(
        client=client,
        app=app,
        bundle=Bundle.of(objects),
        previous=previous,
        policy=policy or SyncPolicy(),
        namespace=None,
        previous_nonempty=bool(previous),
    )


def _role(
    name: str, namespace: str, rules: list[dict[str, Any]], account: str
) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    meta = {"name": name, "namespace": namespace}
    return [
        {"apiVersion": rbac, "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "default"}],
        },
    ]


@pytest.fixture(params=["list in each namespace", "no list at all"])
def limited(
    real_clusters: RealClusters, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Cluster, list[str]]]:
    """A cluster declaration whose credentials reach ConfigMaps in two namespaces only (and,
    in the second case, may not list them even there; with "no delete", asked for by a test,
    may do anything there but delete them)."""
    admin = Admin(real_clusters.kubeconfig(0))
    run = uuid.uuid4().hex[:6]
    account = {"name": f"limited-{run}", "namespace": "default"}
    spaces = [f"rbac-{run}-a", f"rbac-{run}-b"]
    for ns in [*spaces, "fleetsync-system"]:
        admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    admin.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account})
    admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": f"{account['name']}-token",
                "namespace": "default",
                "annotations": {"kubernetes.io/service-account.name": account["name"]},
            },
        }
    )
    verbs = CONFIGMAP_VERBS
    if request.param == "no list at all":
        verbs = [v for v in verbs if v not in ("list", "watch")]
    if request.param == "no delete":
        verbs = [v for v in verbs if v != "delete"]
    for ns in spaces:
        if request.param == "read only in the second" and ns == spaces[1]:
            verbs = ["get", "list", "watch"]
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}]
        for body in _role(f"fleetsync-{run}", ns, rules, account["name"]):
            admin.apply(body)
    # fleetsync's records: its claim and inventory copies (ConfigMaps), intents (Secrets).
    rules = [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": CONFIGMAP_VERBS}]
    for body in _role(f"fleetsync-{run}", "fleetsync-system", rules, account["name"]):
        admin.apply(body)
    # Reading a namespace by name (the inventory copy's), never listing them.
    admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"fleetsync-{run}-namespaces"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}],
        }
    )
    admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"fleetsync-{run}-namespaces"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"fleetsync-{run}-namespaces",
            },
            "subjects": [{"kind": "ServiceAccount", **account}],
        }
    )
    secret = wait_for(
        lambda: (admin.get("v1", "Secret", f"{account['name']}-token", "default") or {}).get(
            "data"
        ),
        timeout=30,
        what="the service account's token",
    )
    token = base64.b64decode(secret["token"]).decode()
    config = dict(admin.kubeconfig)
    config["users"] = [{"name": "limited", "user": {"token": token}}]
    context = {"cluster": config["clusters"][0]["name"], "user": "limited"}
    config["contexts"] = [{"name": "limited", "context": context}]
    config["current-context"] = "limited"
    path = tmp_path / "limited.json"
    path.write_text(json.dumps(config))
    yield Cluster(name=ClusterName("limited"), kubeconfig=str(path)), spaces
    forget_clients()


def test_credentials_without_a_cluster_wide_list_sync_by_listing_each_namespace(
    limited: tuple[Cluster, list[str]], tmp_path: Path
) -> None:
    cluster, spaces = limited
    client = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    bundle = [config_map(f"c{i}", ns) for ns in spaces for i in range(2)]
    app = f"app-{spaces[0]}"
    first = _sync(client, bundle, app)
    assert first.error is None, first.error
    assert {c.action for c in first.changes} == {ChangeAction.CREATED}
    again = _sync(client, bundle, app, previous=first.inventory)
    assert again.error is None, again.error
    assert {c.action for c in again.changes} == {ChangeAction.UNCHANGED}
    with pytest.raises(k8s.exceptions.ApiException) as refused:
        k8s.CoreV1Api(_api(Path(cluster.kubeconfig))).list_config_map_for_all_namespaces()
    assert refused.value.status == 403, "the credentials really may not list across namespaces"


@pytest.mark.parametrize("limited", ["no delete"], indirect=True)
def test_a_prune_rbac_refuses_fails_each_object_and_keeps_it_tracked(
    limited: tuple[Cluster, list[str]], real_clusters: RealClusters, tmp_path: Path
) -> None:
    # A real 403 on the delete of an object the credentials could read: the object stays, its
    # change says why, and it stays in the inventory for the next sync to try again.
    cluster, spaces = limited
    client = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    app = f"app-{spaces[0]}"
    first = _sync(client, [config_map("c0", spaces[0]), config_map("c1", spaces[1])], app)
    assert first.error is None, first.error

    pruned = prune_stale(client, app=app, stale=first.inventory)

    assert sorted(str(c.key) for c in pruned.changes) == [
        f"core/ConfigMap/{spaces[0]}/c0",
        f"core/ConfigMap/{spaces[1]}/c1",
    ]
    for change in pruned.changes:
        assert change.action is ChangeAction.FAILED
        assert change.message.startswith(
            f"prune failed: the delete of {change.key} was forbidden (RBAC: "
        ), change.message
        assert 'cannot delete resource "configmaps"' in change.message
        assert change.message.endswith(
            f'the user of kubeconfig {cluster.kubeconfig} lacks the "delete" verb on '
            f"configmaps in namespace {change.key.namespace}: grant it, or annotate the object "
            '"fleetsync.io/prune: disabled" to '
            "leave it in place"
        ), change.message
        assert "credentials refused" not in change.message, "the credentials work: RBAC refused"
    assert pruned.retained == first.inventory
    admin = Admin(real_clusters.kubeconfig(0))
    assert admin.get("v1", "ConfigMap", "c0", spaces[0]) is not None
    assert admin.get("v1", "ConfigMap", "c1", spaces[1]) is not None


@pytest.mark.parametrize("limited", ["no delete"], indirect=True)
def test_a_replace_rbac_forbids_fails_that_object_saying_what_to_grant(
    limited: tuple[Cluster, list[str]], real_clusters: RealClusters, tmp_path: Path
) -> None:
    # A real 403 on the delete that replacing an immutable ConfigMap starts with: the object's
    # change says so (not the cluster's credentials), and the object is left as it was.
    cluster, spaces = limited
    client = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    app = f"app-{spaces[0]}"
    frozen = {**config_map("frozen", spaces[0], data={"mode": "fast"}), "immutable": True}
    first = _sync(client, [frozen], app)
    assert first.error is None, first.error
    changed = {**frozen, "data": {"mode": "slow"}}

    result = _sync(
        client,
        [changed],
        app,
        previous=first.inventory,
        policy=SyncPolicy(replace=ReplacePolicy.ON_IMMUTABLE),
    )

    key = f"core/ConfigMap/{spaces[0]}/frozen"
    (change,) = result.changes
    assert (str(change.key), change.action) == (key, ChangeAction.FAILED)
    assert change.message.startswith(
        f"replace failed: delete: the delete of {key} was forbidden (RBAC: "
    ), change.message
    assert 'cannot delete resource "configmaps"' in change.message
    assert change.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "delete" verb on configmaps '
        f"in namespace {spaces[0]}: grant it"
    ), change.message
    admin = Admin(real_clusters.kubeconfig(0))
    kept = admin.get("v1", "ConfigMap", "frozen", spaces[0])
    assert kept is not None and kept["data"] == {"mode": "fast"}


@pytest.mark.parametrize("limited", ["read only in the second"], indirect=True)
def test_a_write_rbac_refuses_fails_its_pair_only_and_the_batch_goes_on(
    limited: tuple[Cluster, list[str]], redis_url: str, tmp_path: Path
) -> None:
    # A real 403 on the apply of an object in a namespace the user may read but not write
    # (a multi-tenant cluster): the object's failure, saying which verb to grant; the other
    # application of the same cluster, in the same batch after it, is Synced.
    cluster, spaces = limited
    locked, free = AppName(f"locked-{spaces[0]}"), AppName(f"free-{spaces[0]}")
    store = reconcile_in_one_batch(
        redis_url,
        tmp_path / "cache",
        cluster,
        {locked: spaces[1], free: spaces[0]},
        revision=REV,
        suffix="settings",
    )

    key = f"core/ConfigMap/{spaces[1]}/{locked}-settings"
    refused = store.recorded_status(locked, cluster.name)
    assert refused is not None and refused.failed and refused.sync is SyncState.OUT_OF_SYNC
    assert refused.error_object == key
    assert refused.message.startswith(f"{key}: apply forbidden (RBAC: "), refused.message
    assert 'cannot patch resource "configmaps"' in refused.message, refused.message
    assert refused.message.endswith(
        f'the user of kubeconfig {cluster.kubeconfig} lacks the "patch" verb on configmaps in '
        f"namespace {spaces[1]}: grant it"
    ), refused.message
    assert "credentials refused" not in refused.message
    synced = store.recorded_status(free, cluster.name)
    assert synced is not None and synced.sync is SyncState.SYNCED, synced
