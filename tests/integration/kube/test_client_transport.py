"""The client's thin HTTP path (`kube/transport.py`): gets, lists, applies and deletes sent over
the cluster's connection pool with the kubernetes client's credentials, TLS settings, proxy and
timeouts, every answer mapped to fleetsync's errors, no secret in any of them.

Real parts: real API servers (client certificates, CA bundles and TLS server names exist only
there: kubesim speaks plain HTTP), kubesim over HTTP (its tokens and faults), a forward proxy on
loopback, and a listening socket whose backlog is full (a host that accepts no connection)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from fleetsync.shared.errors import ClusterFailure, PermanentError, TransientError
from fleetsync.shared.kube import client as kube_client
from fleetsync.shared.kube.client import (
    ApiResource,
    ClusterClient,
    ClusterUnavailable,
    Forbidden,
    ObjectForbidden,
    RequestRejected,
    WatchStream,
    connect,
    forget_clients,
)
from fleetsync.shared.kube.ownership import FIELD_MANAGER
from fleetsync.shared.kube.replace import immutable_fields
from fleetsync.shared.kube.targets import NAMESPACES
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from tests.integration.kube.conftest import Live, kubesim_only, real_only
from tests.integration.kube.manifests import config_map, namespace
from tests.support.forward_proxy import ForwardProxy
from tests.support.realk8s import RealClusters

CONFIG_MAPS = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)


def _with_namespace(live: Live) -> None:
    live.client.apply(NAMESPACES, namespace(live.ns), force=True)


def _client(config: dict[str, Any], path: Path, *, timeout: float = 10.0) -> ClusterClient:
    path.write_text(yaml.safe_dump(config))
    cluster = Cluster(name=ClusterName(f"t-{path.stem}"), kubeconfig=str(path))
    return connect(cluster, cache_dir=path.parent / "cache", timeout=timeout)


def _config(live: Live) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path(live.cluster.kubeconfig).read_text())
    return loaded


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    yield
    forget_clients()


# -- the verbs, on kubesim and a real API server -------------------------------------------


def test_an_apply_is_fleetsync_s_and_reads_and_deletes_see_it(live: Live) -> None:
    _with_namespace(live)
    labelled = config_map("a", live.ns)
    labelled["metadata"]["labels"] = {"tier": "web"}
    applied = live.client.apply(CONFIG_MAPS, labelled, force=True)
    live.client.apply(CONFIG_MAPS, config_map("b", live.ns), force=True)

    managers = [(m["manager"], m["operation"]) for m in applied["metadata"]["managedFields"]]
    assert managers == [(FIELD_MANAGER, "Apply")]
    got = live.client.get(CONFIG_MAPS, name="a", namespace=live.ns)
    assert got is not None
    assert got["metadata"]["resourceVersion"] == applied["metadata"]["resourceVersion"]
    listed = live.client.list(CONFIG_MAPS, namespace=live.ns, label_selector="tier in (web)")
    assert [(o["kind"], o["metadata"]["name"]) for o in listed] == [("ConfigMap", "a")]
    assert len(live.client.list(CONFIG_MAPS, namespace=live.ns)) >= 2
    assert live.client.list_revision(CONFIG_MAPS, label_selector="tier=web").isdigit()

    assert live.client.delete(CONFIG_MAPS, name="a", namespace=live.ns) is True
    assert live.client.get(CONFIG_MAPS, name="a", namespace=live.ns) is None
    assert live.client.delete(CONFIG_MAPS, name="a", namespace=live.ns) is False


def test_a_dry_run_apply_answers_the_object_and_stores_nothing(live: Live) -> None:
    _with_namespace(live)
    answered = live.client.apply(CONFIG_MAPS, config_map("dry", live.ns), force=True, dry_run=True)
    assert answered["metadata"]["name"] == "dry"
    assert live.client.get(CONFIG_MAPS, name="dry", namespace=live.ns) is None


def test_a_created_object_is_fleetsync_s_and_a_taken_name_is_a_conflict(live: Live) -> None:
    _with_namespace(live)
    created = live.client.create(CONFIG_MAPS, config_map("made", live.ns))
    assert [m["manager"] for m in created["metadata"]["managedFields"]] == [FIELD_MANAGER]
    with pytest.raises(RequestRejected) as caught:
        live.client.create(CONFIG_MAPS, config_map("made", live.ns))
    assert caught.value.code == 409


def test_a_conflict_with_another_manager_names_it(live: Live) -> None:
    _with_namespace(live)
    live.client.apply(CONFIG_MAPS, config_map("c", live.ns, data={"k": "mine"}), force=True)
    path = f"/api/v1/namespaces/{live.ns}/configmaps/c"
    live.operator.apply(
        path, {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "theirs"}}, manager="tuner"
    )

    with pytest.raises(RequestRejected) as caught:
        live.client.apply(CONFIG_MAPS, config_map("c", live.ns, data={"k": "mine"}), force=False)

    assert caught.value.code == 409
    assert '"tuner"' in str(caught.value)
    assert [c.field for c in caught.value.causes] == [".data.k"]
    forced = live.client.apply(
        CONFIG_MAPS, config_map("c", live.ns, data={"k": "mine"}), force=True
    )
    assert forced["data"] == {"k": "mine"}


def test_an_invalid_object_is_refused_with_the_server_s_causes(live: Live) -> None:
    _with_namespace(live)
    with pytest.raises(RequestRejected) as caught:
        live.client.apply(CONFIG_MAPS, config_map("Not_A_Name", live.ns), force=True)
    assert caught.value.code == 422
    assert "metadata.name" in {c.field for c in caught.value.causes}


def test_an_immutable_field_is_recognised_from_the_refusal(live: Live) -> None:
    _with_namespace(live)
    frozen = {**config_map("frozen", live.ns, data={"k": "1"}), "immutable": True}
    live.client.apply(CONFIG_MAPS, frozen, force=True)
    with pytest.raises(RequestRejected) as caught:
        live.client.apply(CONFIG_MAPS, {**frozen, "data": {"k": "2"}}, force=True)
    assert immutable_fields(caught.value) == ("data",)


def test_a_request_to_a_namespace_that_does_not_exist_is_a_404_refusal(live: Live) -> None:
    with pytest.raises(RequestRejected) as caught:
        live.client.apply(CONFIG_MAPS, config_map("a", f"none-{live.suffix}"), force=True)
    assert caught.value.code == 404
    assert f"none-{live.suffix}" in caught.value.message


# -- credentials and TLS, on a real API server ----------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _client_certificate(
    real: RealClusters, work: Path, *, user: str, group: str
) -> tuple[str, str]:
    """(certificate, key) as base64 data for `user` in `group`, signed by the clusters' CA."""
    pki = real.directory / "pki"
    key, csr, crt = work / f"{user}.key", work / f"{user}.csr", work / f"{user}.crt"
    subject = f"/CN={user}" + (f"/O={group}" if group else "")
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        str(crt),
    )
    return base64.b64encode(crt.read_bytes()).decode(), base64.b64encode(key.read_bytes()).decode()


def _as_user(config: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    config["users"][0]["user"] = user
    return config


@real_only
def test_a_client_certificate_authenticates_in_place_of_a_token(
    live: Live, real_clusters: RealClusters, tmp_path: Path
) -> None:
    cert, key = _client_certificate(
        real_clusters, tmp_path, user=f"deployer-{live.suffix}", group="system:masters"
    )
    config = _as_user(_config(live), {"client-certificate-data": cert, "client-key-data": key})
    client = _client(config, tmp_path / "cert.kubeconfig")

    client.apply(NAMESPACES, namespace(live.ns), force=True)
    applied = client.apply(CONFIG_MAPS, config_map("by-cert", live.ns), force=True)
    assert applied["metadata"]["managedFields"][0]["manager"] == FIELD_MANAGER
    assert client.get(CONFIG_MAPS, name="by-cert", namespace=live.ns) is not None
    assert client.delete(CONFIG_MAPS, name="by-cert", namespace=live.ns) is True


@real_only
def test_a_certificate_s_user_without_rights_is_forbidden_by_name(
    live: Live, real_clusters: RealClusters, tmp_path: Path
) -> None:
    user = f"nobody-{live.suffix}"
    cert, key = _client_certificate(real_clusters, tmp_path, user=user, group="")
    config = _as_user(_config(live), {"client-certificate-data": cert, "client-key-data": key})
    client = _client(config, tmp_path / "nobody.kubeconfig")

    with pytest.raises(Forbidden) as caught:
        client.get(CONFIG_MAPS, name="x", namespace="default")
    assert f'User "{user}" cannot get' in str(caught.value)
    assert str(tmp_path / "nobody.kubeconfig") in str(caught.value)
    assert key not in str(caught.value)


@real_only
def test_a_certificate_authority_file_is_trusted_and_another_authority_is_not(
    live: Live, real_clusters: RealClusters, tmp_path: Path
) -> None:
    config = _config(live)
    cluster = config["clusters"][0]["cluster"]
    del cluster["certificate-authority-data"]
    cluster["certificate-authority"] = str(real_clusters.directory / "pki" / "ca.crt")
    assert _client(config, tmp_path / "bundle.kubeconfig").get(NAMESPACES, name="default")

    other = tmp_path / "other-ca"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=another-ca",
        "-keyout",
        f"{other}.key",
        "-out",
        f"{other}.crt",
    )
    cluster["certificate-authority"] = f"{other}.crt"
    stranger = _client(config, tmp_path / "stranger.kubeconfig")
    with pytest.raises(PermanentError, match="TLS handshake failed") as caught:
        stranger.get(NAMESPACES, name="default")
    assert str(tmp_path / "stranger.kubeconfig") in str(caught.value)
    token = config["users"][0]["user"]["token"]
    assert token not in str(caught.value)


@real_only
def test_a_relative_certificate_authority_path_is_read_beside_the_kubeconfig(
    live: Live, real_clusters: RealClusters, tmp_path: Path
) -> None:
    config = _config(live)
    cluster = config["clusters"][0]["cluster"]
    del cluster["certificate-authority-data"]
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(
        (real_clusters.directory / "pki" / "ca.crt").read_bytes()
    )
    cluster["certificate-authority"] = "pki/ca.crt"
    assert _client(config, tmp_path / "relative.kubeconfig").get(NAMESPACES, name="default")


def test_a_relative_token_file_is_read_beside_the_kubeconfig(live: Live, tmp_path: Path) -> None:
    # Not from the worker's working directory, where no such file is.
    config = _config(live)
    user = config["users"][0]["user"]
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(user.pop("token"))
    user["tokenFile"] = "secrets/token"
    assert not (Path.cwd() / "secrets" / "token").exists()

    client = _client(config, tmp_path / "token-file.kubeconfig")

    name = live.unique("by-file")
    assert client.apply(CONFIG_MAPS, config_map(name, "default"), force=True)
    assert live.client.get(CONFIG_MAPS, name=name, namespace="default") is not None
    live.client.delete(CONFIG_MAPS, name=name, namespace="default")


@real_only
def test_insecure_skip_tls_verify_reaches_a_server_of_unknown_authority(
    live: Live, tmp_path: Path
) -> None:
    config = _config(live)
    cluster = config["clusters"][0]["cluster"]
    del cluster["certificate-authority-data"]
    unverified = _client(config, tmp_path / "unknown.kubeconfig")
    with pytest.raises(PermanentError, match="TLS handshake failed"):
        unverified.get(NAMESPACES, name="default")

    cluster["insecure-skip-tls-verify"] = True
    insecure = _client(config, tmp_path / "insecure.kubeconfig")
    assert insecure.get(NAMESPACES, name="default") is not None


@real_only
def test_the_tls_server_name_is_the_name_the_certificate_must_carry(
    live: Live, tmp_path: Path
) -> None:
    """The server's certificate names 127.0.0.1, localhost and kubernetes."""
    config = _config(live)
    config["clusters"][0]["cluster"]["tls-server-name"] = "kubernetes"
    assert _client(config, tmp_path / "named.kubeconfig").get(NAMESPACES, name="default")

    config["clusters"][0]["cluster"]["tls-server-name"] = "elsewhere.example"
    misnamed = _client(config, tmp_path / "misnamed.kubeconfig")
    with pytest.raises(PermanentError, match="TLS handshake failed"):
        misnamed.get(NAMESPACES, name="default")


# -- tokens, proxies, faults and timeouts, on kubesim ---------------------------------------


@kubesim_only
def test_the_kubeconfig_s_token_is_sent_and_a_wrong_one_refused_without_showing_it(
    live: Live, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(live)
    right = config["users"][0]["user"]["token"]
    assert _client(config, tmp_path / "right.kubeconfig").get(NAMESPACES, name="default")

    wrong = f"wrong-{live.suffix}-secret"
    config["users"][0]["user"]["token"] = wrong
    client = _client(config, tmp_path / "wrong.kubeconfig")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError, match=r"credentials refused \(401") as caught:
        client.apply(CONFIG_MAPS, config_map("a", "default"), force=True)

    assert str(tmp_path / "wrong.kubeconfig") in str(caught.value)
    for secret in (wrong, right):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


@kubesim_only
@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        (
            "unauthorized",
            "cluster {cluster}: credentials refused (401 Unauthorized); check the user of "
            "kubeconfig {kubeconfig}",
        ),
        (
            "forbidden",
            'the apply of core/ConfigMap/default/a was forbidden (RBAC: User "system:serviceaccount'
            ':fleetsync:fleetsync" cannot patch /api/v1/namespaces/default/configmaps/a in cluster '
            "{cluster}: access denied (simulated)): the user of kubeconfig {kubeconfig} lacks the "
            '"patch" verb on configmaps in namespace default: grant it',
        ),
    ],
)
def test_credentials_refused_on_a_write_are_permanent_and_show_no_token(
    live: Live, fault: str, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A 401 is the cluster's credentials refused; RBAC's 403 on a write of one object is that
    # object's refusal (the credentials work, one verb is missing).
    caplog.set_level(logging.DEBUG)
    live.sim.set_fault(**{fault: True})  # type: ignore[arg-type]
    try:
        with pytest.raises(PermanentError) as caught:
            live.client.apply(CONFIG_MAPS, config_map("a", "default"), force=True)
    finally:
        live.sim.clear_faults()
    assert str(caught.value) == refusal.format(
        cluster=live.cluster.name, kubeconfig=live.cluster.kubeconfig
    )
    assert isinstance(caught.value, ObjectForbidden) is (fault == "forbidden")
    assert isinstance(caught.value, ClusterFailure) is (fault == "unauthorized")
    assert live.sim.token not in str(caught.value)
    assert live.sim.token not in caplog.text


@kubesim_only
@pytest.mark.parametrize("code", [429, 500, 503])
def test_throttling_and_server_errors_on_a_request_are_transient(live: Live, code: int) -> None:
    live.sim.set_fault(error_rate=1.0, error_code=code)
    try:
        with pytest.raises(TransientError) as caught:
            live.client.get(CONFIG_MAPS, name="a", namespace="default")
    finally:
        live.sim.clear_faults()
    reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}[code]
    assert str(caught.value) == (
        f"cluster {live.cluster.name}: {code} {reason}: simulated failure ({code})"
    )
    assert isinstance(caught.value, ClusterUnavailable) is (code != 500), "a 500 is the request's"
    assert caught.value.delay == (None if code == 500 else 1.0), "kubesim's Retry-After"


@kubesim_only
def test_a_cluster_that_stops_answering_times_out_as_a_transient_error(
    live: Live, tmp_path: Path
) -> None:
    client = _client(_config(live), tmp_path / "slow.kubeconfig", timeout=0.5)
    assert client.get(NAMESPACES, name="default") is not None
    live.sim.set_fault(down=True, down_mode="hang")
    try:
        with pytest.raises(TransientError) as caught:
            client.apply(CONFIG_MAPS, config_map("a", "default"), force=True)
    finally:
        live.sim.clear_faults()
    server = _config(live)["clusters"][0]["cluster"]["server"]
    assert str(caught.value) == f"cluster t-slow: timed out talking to {server}"


@pytest.fixture
def no_connection() -> Iterator[str]:
    """An address whose listener takes no connection: its backlog is full, so the kernel drops
    further handshakes and a connect waits until it gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    queued = []
    try:
        while len(queued) < 16:
            s = socket.socket()
            s.settimeout(0.3)
            try:
                s.connect(address)
            except TimeoutError:
                s.close()
                break
            queued.append(s)
        else:
            pytest.fail("the listener kept taking connections")
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for s in queued:
            s.close()
        listener.close()


@kubesim_only
def test_a_host_that_takes_no_connection_is_given_up_at_the_connect_timeout(
    live: Live, tmp_path: Path, no_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connect timeout is shorter than a request's: 0.4 s here against 30 s."""
    monkeypatch.setattr(kube_client, "CONNECT_TIMEOUT", 0.4)
    config = _config(live)
    config["clusters"][0]["cluster"]["server"] = no_connection
    client = _client(config, tmp_path / "silent.kubeconfig", timeout=30.0)
    with pytest.raises(TransientError) as caught:
        client.get(NAMESPACES, name="default")
    assert str(caught.value) == f"cluster t-silent: no connection to {no_connection} within 0.4 s"


@kubesim_only
def test_a_host_that_refuses_connections_is_unavailable_with_no_wait_named(
    live: Live, tmp_path: Path
) -> None:
    """A refused connection is no timeout: nothing was waited for."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    config = _config(live)
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    client = _client(config, tmp_path / "closed.kubeconfig")
    with pytest.raises(ClusterUnavailable) as caught:
        client.get(NAMESPACES, name="default")
    assert str(caught.value) == f"cluster t-closed: no connection to http://127.0.0.1:{port}"


@kubesim_only
def test_a_watch_and_its_starting_list_ask_for_what_they_were_told(
    live: Live, tmp_path: Path
) -> None:
    """Seen on the wire, through a forward proxy: the label selector only when one is given,
    bookmarks unless turned off, the server's timeout, the revision to start from."""
    config = _config(live)
    server = config["clusters"][0]["cluster"]["server"]
    with ForwardProxy() as proxy:
        config["clusters"][0]["cluster"]["proxy-url"] = proxy.url
        client = _client(config, tmp_path / "watching.kubeconfig")
        revision = client.list_revision(CONFIG_MAPS)
        assert client.list_revision(CONFIG_MAPS, label_selector="app=web") == revision
        client.watch(CONFIG_MAPS, resource_version=revision, timeout_seconds=1).close()
        client.watch(
            CONFIG_MAPS,
            resource_version=revision,
            label_selector="app=web",
            timeout_seconds=1,
            bookmarks=False,
        ).close()
    paths = [line.removeprefix(f"GET {server}") for line in proxy.seen if "configmaps" in line]
    assert paths == [
        "/api/v1/configmaps?limit=1",
        "/api/v1/configmaps?limit=1&labelSelector=app%3Dweb",
        f"/api/v1/configmaps?resourceVersion={revision}&timeoutSeconds=1&watch=true"
        "&allowWatchBookmarks=true",
        f"/api/v1/configmaps?labelSelector=app%3Dweb&resourceVersion={revision}"
        "&timeoutSeconds=1&watch=true",
    ]


@kubesim_only
def test_writes_name_fleetsync_s_field_manager_and_ask_for_strict_validation(
    live: Live, tmp_path: Path
) -> None:
    """Seen on the wire, through a forward proxy: an apply forces conflicts only when told, a
    dry-run persists nothing, a create (a POST) is fleetsync's too; a delete lets dependents
    follow in the background unless told otherwise, and says whether there was anything."""
    config = _config(live)
    server = config["clusters"][0]["cluster"]["server"]
    with ForwardProxy() as proxy:
        config["clusters"][0]["cluster"]["proxy-url"] = proxy.url
        client = _client(config, tmp_path / "writing.kubeconfig")
        name = f"w-{live.suffix}"
        client.apply(CONFIG_MAPS, config_map(name, "default"), force=False, dry_run=True)
        client.apply(CONFIG_MAPS, config_map(name, "default"), force=True)
        client.create(CONFIG_MAPS, config_map(f"c-{live.suffix}", "default"))
        assert client.delete(CONFIG_MAPS, name=name, namespace="default") is True
        assert client.delete(
            CONFIG_MAPS, name=f"c-{live.suffix}", namespace="default", propagation="Foreground"
        )
        assert client.delete(CONFIG_MAPS, name=name, namespace="default") is False
    base = f"{server}/api/v1/namespaces/default/configmaps"
    strict = f"fieldValidation=Strict&fieldManager={FIELD_MANAGER}"
    assert [line for line in proxy.seen if "/configmaps" in line] == [
        f"PATCH {base}/{name}?{strict}&force=false&dryRun=All",
        f"PATCH {base}/{name}?{strict}&force=true",
        f"POST {base}?{strict}",
        f"DELETE {base}/{name}?propagationPolicy=Background",
        f"DELETE {base}/c-{live.suffix}?propagationPolicy=Foreground",
        f"DELETE {base}/{name}?propagationPolicy=Background",
    ]


@kubesim_only
def test_a_proxy_url_in_the_kubeconfig_carries_every_request(live: Live, tmp_path: Path) -> None:
    config = _config(live)
    server = config["clusters"][0]["cluster"]["server"]
    with ForwardProxy() as proxy:
        config["clusters"][0]["cluster"]["proxy-url"] = proxy.url
        client = _client(config, tmp_path / "proxied.kubeconfig")
        client.apply(CONFIG_MAPS, config_map(f"p-{live.suffix}", "default"), force=True)
        got = client.get(CONFIG_MAPS, name=f"p-{live.suffix}", namespace="default")
    assert got is not None
    path = f"{server}/api/v1/namespaces/default/configmaps/p-{live.suffix}"
    assert [line.split("?")[0] for line in proxy.seen] == [f"PATCH {path}", f"GET {path}"]


# -- answers no API server gives, from a real HTTP server ----------------------------------


@contextmanager
def _serving(
    body: bytes,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    length: int = -1,
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """A loopback HTTP server answering every GET and DELETE with `status`, `headers` and `body` (a
    `length` longer than the body: the connection is cut before the body's end)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(length if length >= 0 else len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        do_DELETE = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _watching(url: str) -> Iterator[dict[str, Any]]:
    response = urllib3.PoolManager().request(
        "GET", f"{url}/api/v1/configmaps?watch=true", preload_content=False
    )
    return iter(WatchStream(response, cluster="prod"))


ADDED = {"type": "ADDED", "object": {"metadata": {"name": "a"}}}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b'["ADDED", {}]', "a watch event that is not an object"),
        (b"7", "a watch event that is not an object"),
        (b'{"type": "ADDED", ', "a watch event that is not JSON; watching again"),
    ],
    ids=["a_list", "a_number", "cut_json"],
)
def test_a_watch_line_that_is_no_json_object_ends_the_watch_as_a_transient_error(
    line: bytes, problem: str
) -> None:
    """The events before it are yielded; then the watch fails, to be started again."""
    with _serving(json.dumps(ADDED).encode() + b"\n" + line + b"\n") as url:
        events = _watching(url)
        assert next(events) == ADDED
        with pytest.raises(TransientError) as caught:
            next(events)
    assert str(caught.value) == f"cluster prod: {problem}"


def test_a_last_watch_event_without_its_newline_is_yielded_then_the_watch_ends() -> None:
    with _serving(json.dumps(ADDED).encode() + b"\n" + json.dumps(ADDED).encode()) as url:
        assert list(_watching(url)) == [ADDED, ADDED]


def test_a_watch_line_longer_than_the_limit_ends_the_watch_naming_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kube_client, "MAX_WATCH_LINE", 64)
    with _serving(json.dumps(ADDED).encode() + b"\n" + b"x" * 65) as url:
        events = _watching(url)
        assert next(events) == ADDED
        with pytest.raises(TransientError) as caught:
            next(events)
    assert str(caught.value) == ("cluster prod: a watch event longer than 64 bytes; watching again")


def test_a_watch_event_of_exactly_the_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_client, "MAX_WATCH_LINE", 64)
    event = {"type": "ADDED", "object": {"metadata": {"name": ""}}}
    event["object"]["metadata"]["name"] = "a" * (64 - len(json.dumps(event)))
    line = json.dumps(event).encode()
    assert len(line) == 64
    with _serving(line) as url:
        assert list(_watching(url)) == [event]


def test_a_watch_whose_connection_is_cut_is_interrupted() -> None:
    body = json.dumps(ADDED).encode() + b"\n"
    with _serving(body, length=len(body) + 100) as url, pytest.raises(TransientError) as caught:
        list(_watching(url))
    assert str(caught.value) == (
        "cluster prod: watch interrupted: Connection broken: "
        f"IncompleteRead({len(body)} bytes read, 100 more expected)"
    )


def _client_of(live: Live, tmp_path: Path, url: str) -> ClusterClient:
    config = _config(live)
    config["clusters"][0]["cluster"]["server"] = url
    return _client(config, tmp_path / "odd.kubeconfig")


@kubesim_only
def test_a_success_whose_body_is_not_json_is_the_cluster_unavailable(
    live: Live, tmp_path: Path
) -> None:
    with _serving(b"<html>welcome</html>") as url:
        client = _client_of(live, tmp_path, url)
        with pytest.raises(ClusterUnavailable) as caught:
            client.get(NAMESPACES, name="default")
    assert str(caught.value) == (
        "cluster t-odd: GET /api/v1/namespaces/default answered 200 with a body that is not JSON"
    )


@kubesim_only
@pytest.mark.parametrize(
    "body", [b"<html>busy</html>", b'["busy"]', b""], ids=["html", "a_json_list", "empty"]
)
def test_a_503_without_a_status_body_names_its_reason_phrase_and_a_bad_retry_after_no_delay(
    live: Live, tmp_path: Path, body: bytes
) -> None:
    with _serving(body, status=503, headers={"Retry-After": "soon"}) as url:
        client = _client_of(live, tmp_path, url)
        with pytest.raises(ClusterUnavailable) as caught:
            client.get(NAMESPACES, name="default")
    assert str(caught.value) == "cluster t-odd: 503 Service Unavailable"
    assert caught.value.delay is None


@kubesim_only
def test_a_503_s_retry_after_in_seconds_is_the_delay(live: Live, tmp_path: Path) -> None:
    status = {"kind": "Status", "reason": "ServiceUnavailable", "message": "etcd is down"}
    with _serving(json.dumps(status).encode(), status=503, headers={"Retry-After": "7"}) as url:
        client = _client_of(live, tmp_path, url)
        with pytest.raises(ClusterUnavailable) as caught:
            client.get(NAMESPACES, name="default")
    assert str(caught.value) == "cluster t-odd: 503 ServiceUnavailable: etcd is down"
    assert caught.value.delay == 7.0


@kubesim_only
def test_a_refusal_other_than_not_found_is_raised_by_get_and_delete(
    live: Live, tmp_path: Path
) -> None:
    """Not found is an answer (None, False); any other refusal of the object is an error."""
    status = {"kind": "Status", "reason": "Invalid", "message": "bad name", "code": 422}
    with _serving(json.dumps(status).encode(), status=422) as url:
        client = _client_of(live, tmp_path, url)
        with pytest.raises(RequestRejected) as got:
            client.get(CONFIG_MAPS, name="a", namespace="default")
        with pytest.raises(RequestRejected) as deleted:
            client.delete(CONFIG_MAPS, name="a", namespace="default")
    for caught in (got, deleted):
        assert (caught.value.code, str(caught.value)) == (422, "422 Invalid: bad name")


def _self_signed(work: Path, name: str) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for 127.0.0.1."""
    crt, key = work / f"{name}.crt", work / f"{name}.key"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        f"/CN={name}",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(crt),
    )
    return crt, key


@kubesim_only
def test_a_server_of_another_certificate_authority_is_refused_naming_the_kubeconfig(
    live: Live, tmp_path: Path
) -> None:
    """On a loopback TLS server whose certificate no authority of the kubeconfig signed."""
    served, key = _self_signed(tmp_path, "server")
    other, _ = _self_signed(tmp_path, "other")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(served, key)
    with _serving(b"{}", tls=tls) as url:
        config = _config(live)
        cluster = config["clusters"][0]["cluster"]
        cluster.pop("certificate-authority-data", None)
        cluster.update(server=url, **{"certificate-authority": str(other)})
        stranger = _client(config, tmp_path / "stranger.kubeconfig")
        with pytest.raises(PermanentError) as caught:
            stranger.get(NAMESPACES, name="default")
        cluster["certificate-authority"] = str(served)
        trusting = _client(config, tmp_path / "trusting.kubeconfig")
        assert trusting.get(NAMESPACES, name="default") == {}
    assert str(caught.value) == (
        "cluster t-stranger: TLS handshake failed; check the certificate authority in kubeconfig "
        f"{tmp_path / 'stranger.kubeconfig'}"
    )
