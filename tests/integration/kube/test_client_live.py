"""connect and ClusterClient: discovery and caching (on kubesim and a real API server), and how
failures are named (faults only kubesim can make)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fleetsync.shared.errors import ClusterFailure, PermanentError, TransientError
from fleetsync.shared.kube.client import (
    Forbidden,
    NamespaceForbidden,
    UnknownKindError,
    connect,
    forget_clients,
    keep_clients,
)
from fleetsync.shared.kube.ownership import RECORDS_NAMESPACE
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.reconcile import REQUEST_TIMEOUT
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import namespace, sync


def test_resolve_maps_apiversion_and_kind_to_the_served_resource(live: Live) -> None:
    deployments = live.client.resolve("apps/v1", "Deployment")
    assert (deployments.plural, deployments.namespaced) == ("deployments", True)
    namespaces = live.client.resolve("v1", "Namespace")
    assert (namespaces.plural, namespaces.namespaced) == ("namespaces", False)
    with pytest.raises(UnknownKindError) as caught:
        live.client.resolve(f"{live.group}/v1", "Widget")
    assert str(caught.value) == (
        f"kind Widget ({live.group}/v1) is not served by cluster {live.cluster.name}; "
        "install its CRD or add it to the bundle"
    )


def test_the_discovery_cache_is_a_file_per_cluster(live: Live) -> None:
    live.client.resolve("apps/v1", "Deployment")
    assert (live.cache_dir / live.cluster.name / "discovery.json").is_file()


def test_connect_shares_one_client_per_cluster_until_the_kubeconfig_changes(
    live: Live, tmp_path: Path
) -> None:
    same = connect(live.cluster, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT)
    assert same is live.client

    clients = []
    threads = [
        threading.Thread(
            target=lambda: clients.append(
                connect(live.cluster, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT)
            )
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is live.client for c in clients)

    copy = tmp_path / "edited.kubeconfig"
    copy.write_text(Path(live.cluster.kubeconfig).read_text())
    edited = Cluster(name=live.cluster.name, kubeconfig=str(copy))
    first = connect(edited, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT)
    copy.write_text(copy.read_text() + "\n")
    os.utime(copy, ns=(1, 1))
    assert connect(edited, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) is not first


def test_the_client_cache_keeps_the_most_recently_used_up_to_its_bound(
    live: Live, tmp_path: Path
) -> None:
    copies = []
    for i in range(3):  # three kubeconfig files: three cache entries for the same cluster
        path = tmp_path / f"k{i}.kubeconfig"
        path.write_text(Path(live.cluster.kubeconfig).read_text())
        copies.append(Cluster(name=live.cluster.name, kubeconfig=str(path)))
    try:
        keep_clients(2)
        first = [connect(c, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) for c in copies]
        assert connect(copies[2], cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) is first[2]
        assert connect(copies[0], cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) is not first[0]
        keep_clients(3)
        again = [connect(c, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) for c in copies]
        assert [
            connect(c, cache_dir=live.cache_dir, timeout=REQUEST_TIMEOUT) for c in copies
        ] == again
    finally:
        keep_clients(None)


@kubesim_only
def test_an_unreachable_cluster_is_a_transient_error(live: Live) -> None:
    live.sim.set_fault(down=True)
    try:
        with pytest.raises(TransientError) as caught:
            sync(live, [namespace(live.ns)])
    finally:
        live.sim.clear_faults()
    config = yaml.safe_load(Path(live.cluster.kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    assert str(caught.value) == (
        f"cluster {live.cluster.name}: unreachable at {server}: "
        "Connection aborted: Remote end closed connection without response"
    )


@kubesim_only
def test_a_cluster_that_never_answers_times_out_as_a_transient_error(live: Live) -> None:
    forget_clients()
    client = connect(live.cluster, cache_dir=live.cache_dir, timeout=0.5)
    live.sim.set_fault(down=True, down_mode="hang")
    try:
        with pytest.raises(TransientError) as caught:
            client.resolve("v1", "Namespace")
    finally:
        live.sim.clear_faults()
    config = yaml.safe_load(Path(live.cluster.kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    assert str(caught.value) == f"cluster {live.cluster.name}: timed out talking to {server}"


@kubesim_only
def test_throttling_is_a_transient_error_with_the_retry_after_delay(live: Live) -> None:
    live.sim.set_fault(error_rate=1.0, error_code=429)
    try:
        with pytest.raises(TransientError) as caught:
            sync(live, [namespace(live.ns)])
    finally:
        live.sim.clear_faults()
    assert caught.value.delay == 1.0
    assert str(caught.value) == (
        f"cluster {live.cluster.name}: 429 TooManyRequests: simulated failure (429)"
    )


@kubesim_only
def test_a_server_error_is_a_transient_error(live: Live) -> None:
    live.sim.set_fault(error_rate=1.0, error_code=500)
    try:
        with pytest.raises(TransientError) as caught:
            sync(live, [namespace(live.ns)])
    finally:
        live.sim.clear_faults()
    assert (
        str(caught.value)
        == f"cluster {live.cluster.name}: 500 InternalError: simulated failure (500)"
    )


@kubesim_only
@pytest.mark.parametrize(("fault", "code"), [("unauthorized", "401"), ("forbidden", "403")])
def test_refused_credentials_are_a_permanent_error_without_the_token(
    live: Live, fault: str, code: str
) -> None:
    # Every request refused: the sync's first read, of its inventory copy in fleetsync-system,
    # is refused too. A 401 is the credentials refused; a 403 there is RBAC refusing fleetsync's
    # own records, which every application needs: the cluster's failure too, saying what to grant.
    live.sim.set_fault(**{fault: True})  # type: ignore[arg-type]
    try:
        with pytest.raises(PermanentError) as caught:
            sync(live, [namespace(live.ns)])
    finally:
        live.sim.clear_faults()
    message = str(caught.value)
    assert message.startswith(f"cluster {live.cluster.name}: "), message
    assert isinstance(caught.value, ClusterFailure)
    if code == "401":
        assert "credentials refused (401" in message, message
    else:
        assert isinstance(caught.value, Forbidden)
        assert "/fleetsync-system/" in message and ": grant it" in message, message
    assert live.cluster.kubeconfig in message
    assert live.sim.token not in message


@kubesim_only
def test_a_list_rbac_refuses_in_one_namespace_is_that_namespace_s_not_the_cluster_s(
    live: Live,
) -> None:
    # A LIST in one namespace refused (a hook's, in its application's namespace) says which
    # verb to grant there; a LIST in every namespace refused stays the credentials' reach, the
    # cluster's (read.py falls back to LISTs in each namespace).
    config_maps = live.client.resolve("v1", "ConfigMap")
    live.sim.forbid_lists("configmaps", [live.ns, ""])
    try:
        with pytest.raises(NamespaceForbidden) as narrow:
            live.client.list(config_maps, namespace=live.ns)
        with pytest.raises(Forbidden) as wide:
            live.client.list(config_maps)
    finally:
        live.sim.clear_faults()
    assert not isinstance(narrow.value, ClusterFailure)
    assert str(narrow.value).startswith(
        f"the list of configmaps in namespace {live.ns} was forbidden (RBAC: "
    ), narrow.value
    assert str(narrow.value).endswith(
        f'the user of kubeconfig {live.cluster.kubeconfig} lacks the "list" verb on configmaps '
        f"in namespace {live.ns}: grant it"
    ), narrow.value
    assert isinstance(wide.value, ClusterFailure) and not isinstance(wide.value, NamespaceForbidden)
    assert "credentials refused (403" in str(wide.value)


def test_a_missing_kubeconfig_is_a_permanent_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "prod.kubeconfig"
    cluster = Cluster(name=ClusterName("prod"), kubeconfig=str(missing))
    with pytest.raises(PermanentError, match=f"cluster prod: kubeconfig {missing}"):
        connect(cluster, cache_dir=tmp_path, timeout=1.0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            b"apiVersion: v1\nkind: Config\nclusters: []\n",
            "Invalid kube-config file. Expected key current-context in {path}",
        ),
        (b"", "empty"),
        (b"- just\n- a list\n", "a list, not a mapping"),
        (b"7\n", "a number, not a mapping"),
        (b"apiVersion: v1\ncurrent-context: a\ncontexts: 7\n", "contexts is a number, not a list"),
        (b"apiVersion: v1\ncontexts: true\n", "contexts is a boolean, not a list"),
        (b"apiVersion: v1\nusers: 2024-01-31\n", "users is a date, not a list"),
        (b"clusters: {a: 1}\n", "clusters is a mapping, not a list"),
        (
            b"clusters: \xff\xfe\n",
            "'utf-8' codec can't decode byte 0xff in position 10: invalid start byte",
        ),
    ],
    ids=[
        "no_context",
        "empty",
        "list",
        "number",
        "contexts_not_a_list",
        "contexts_a_boolean",
        "users_a_date",
        "clusters_a_mapping",
        "not_utf8",
    ],
)
def test_an_invalid_kubeconfig_is_a_permanent_error_naming_the_file(
    tmp_path: Path, text: bytes, problem: str
) -> None:
    broken = tmp_path / "broken.kubeconfig"
    broken.write_bytes(text)
    cluster = Cluster(name=ClusterName("prod"), kubeconfig=str(broken))
    with pytest.raises(PermanentError) as caught:
        connect(cluster, cache_dir=tmp_path, timeout=1.0)
    assert str(caught.value) == (
        f"cluster prod: kubeconfig {broken} is invalid: {problem.format(path=broken)}"
    )


@pytest.mark.parametrize(
    ("make", "problem"),
    [(lambda p: None, "No such file or directory"), (Path.mkdir, "Is a directory")],
    ids=["missing", "a_directory"],
)
def test_a_kubeconfig_that_cannot_be_read_is_a_permanent_error_naming_the_file(
    tmp_path: Path, make: Callable[[Path], object], problem: str
) -> None:
    path = tmp_path / "prod.kubeconfig"
    make(path)
    cluster = Cluster(name=ClusterName("prod"), kubeconfig=str(path))
    with pytest.raises(PermanentError) as caught:
        connect(cluster, cache_dir=tmp_path, timeout=1.0)
    assert str(caught.value) == f"cluster prod: kubeconfig {path}: {problem}"


def test_an_unknown_context_is_a_permanent_error_naming_the_file(live: Live) -> None:
    cluster = Cluster(name=live.cluster.name, kubeconfig=live.cluster.kubeconfig, context="nope")
    with pytest.raises(PermanentError, match="is invalid"):
        connect(cluster, cache_dir=live.cache_dir, timeout=1.0)


@kubesim_only
def test_a_list_rbac_refuses_in_fleetsync_s_own_namespace_is_the_cluster_s(live: Live) -> None:
    """Every application on the cluster needs fleetsync's records there."""
    config_maps = live.client.resolve("v1", "ConfigMap")
    live.sim.forbid_lists("configmaps", [RECORDS_NAMESPACE])
    try:
        with pytest.raises(Forbidden) as caught:
            live.client.list(config_maps, namespace=RECORDS_NAMESPACE)
        assert live.client.list(config_maps, namespace="default") is not None
    finally:
        live.sim.clear_faults()
    assert isinstance(caught.value, ClusterFailure)
    assert not isinstance(caught.value, NamespaceForbidden)
    assert str(caught.value) == (
        f"cluster {live.cluster.name}: credentials refused (403 Forbidden: configmaps is "
        'forbidden: User "system:serviceaccount:fleetsync:fleetsync" cannot list resource '
        f'"configmaps" in API group "" in the namespace "{RECORDS_NAMESPACE}"); check the user '
        f"of kubeconfig {live.cluster.kubeconfig}"
    )
