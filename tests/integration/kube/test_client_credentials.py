"""Credentials that expire are asked for again; those that cannot expire are not re-read before
every request. Real parts: kubesim over HTTP, checking each request's bearer token, and an exec
credential plugin (a small script) that counts how often it is run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsync.shared.kube.client import ClusterClient, connect, forget_clients
from fleetsync.shared.kube.targets import NAMESPACES
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, Simulator

PLUGIN = """\
import json, sys
with open(sys.argv[1], "a") as runs:
    runs.write("run\\n")
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1beta1",
    "kind": "ExecCredential",
    "status": {"token": sys.argv[2], "expirationTimestamp": sys.argv[3]},
}))
"""


@pytest.fixture
def handle(kubesim: Simulator, tmp_path: Path) -> Iterator[ClusterHandle]:
    found = kubesim.add_cluster(f"cred-{tmp_path.name[-6:]}".lower().replace("_", "-"))
    yield found
    kubesim.remove_cluster(found.name)
    forget_clients()


def _client(kubeconfig: Path, name: str, tmp_path: Path) -> ClusterClient:
    cluster = Cluster(name=ClusterName(name), kubeconfig=str(kubeconfig))
    return connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)


def _with_exec_plugin(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path, expires: datetime
) -> tuple[Path, Path]:
    """A kubeconfig for `handle` whose user's token comes from an exec plugin; its run log."""
    config: dict[str, Any] = yaml.safe_load(kubesim.kubeconfig_path(handle.name).read_text())
    user = config["users"][0]
    token = user["user"]["token"]
    plugin, runs = tmp_path / "plugin.py", tmp_path / "runs.log"
    plugin.write_text(PLUGIN)
    stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    user["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin), str(runs), token, stamp],
        }
    }
    kubeconfig = tmp_path / "exec.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    return kubeconfig, runs


def test_a_token_from_an_exec_plugin_is_asked_for_again_once_it_expires(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    """The client counts a token as expired a few minutes before its expiry: one that expires
    in a minute is asked for again before every request."""
    soon = datetime.now(UTC) + timedelta(minutes=1)
    kubeconfig, runs = _with_exec_plugin(kubesim, handle, tmp_path, soon)
    client = _client(kubeconfig, handle.name, tmp_path)

    for _ in range(3):
        assert client.get(NAMESPACES, name="default") is not None
    assert len(runs.read_text().splitlines()) >= 4, "the first token, then one per request"


def test_a_token_that_does_not_expire_soon_is_not_asked_for_again(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    kubeconfig, runs = _with_exec_plugin(kubesim, handle, tmp_path, later)
    client = _client(kubeconfig, handle.name, tmp_path)

    for _ in range(3):
        assert client.get(NAMESPACES, name="default") is not None
    assert len(runs.read_text().splitlines()) == 1


def test_a_static_token_is_sent_without_refreshing_the_client_s_settings_per_request(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    client = _client(kubesim.kubeconfig_path(handle.name), handle.name, tmp_path)

    assert client.get(NAMESPACES, name="default") is not None
    assert client._api_client.configuration.refresh_api_key_hook is None
    assert handle.request_counts()[("get", "namespaces")] == 1, "with its token"


def test_a_token_from_an_auth_provider_keeps_the_client_s_refresh_for_when_it_expires(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    """An auth provider's token (here gcp's, still valid: no refresh needed to reach the
    cluster) expires; the client's refresh, which renews it once expired, stays in place. Its
    renewal itself needs the provider's service, which no test here can reach."""
    config: dict[str, Any] = yaml.safe_load(kubesim.kubeconfig_path(handle.name).read_text())
    user = config["users"][0]
    expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    user["user"] = {
        "auth-provider": {
            "name": "gcp",
            "config": {"access-token": user["user"]["token"], "expiry": expiry},
        }
    }
    kubeconfig = tmp_path / "provider.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    client = _client(kubeconfig, handle.name, tmp_path)

    assert client.get(NAMESPACES, name="default") is not None
    assert client._api_client.configuration.refresh_api_key_hook is not None
