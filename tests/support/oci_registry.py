"""A real OCI registry for tests: the CNCF distribution registry (Debian's `docker-registry`),
started on a free loopback port with a generated config, plain HTTP, optionally behind HTTP
Basic authentication (an htpasswd file with a bcrypt hash) or token authentication (a Bearer
challenge naming the realm of a token server, tests/support/registry_tokens.py). Charts are
pushed to it as Helm pushes them, by plain HTTP requests of the OCI distribution spec: the
chart archive as a layer (application/vnd.cncf.helm.chart.content.v1.tar+gzip), Chart.yaml's
metadata as the config (application/vnd.cncf.helm.config.v1+json), an OCI image manifest
tagged with the version.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.redis_server import free_port
from tests.support.registry_tokens import ISSUER, SERVICE, TokenServer
from tests.support.waiting import wait_for

REGISTRY = "/usr/bin/docker-registry"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class RegistryUnavailable(RuntimeError):
    pass


@dataclass
class Registry:
    port: int
    auth: tuple[str, str] | None = None
    token_auth: bool = False
    """The registry wants Bearer tokens from its realm (asked for with `auth`)."""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def oci_url(self, path: str = "charts") -> str:
        return f"oci://{self.host}/{path}"

    def _request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.auth is not None:
            sent["Authorization"] = f"Basic {self._basic()}"
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "")
            if exc.code != 401 or not self.token_auth or not challenge.startswith("Bearer "):
                raise
        sent["Authorization"] = f"Bearer {self._token(challenge)}"
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()

    def _basic(self) -> str:
        assert self.auth is not None
        return base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()

    def _token(self, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k != "realm"})
        request = urllib.request.Request(
            f"{params['realm']}?{query}", headers={"Authorization": f"Basic {self._basic()}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["token"])

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        base = f"http://{self.host}/v2/{repository}/blobs/uploads/"
        _, headers, _ = self._request("POST", base, data=b"")
        location = urllib.parse.urljoin(base, headers["Location"])
        joiner = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{joiner}digest={urllib.parse.quote(digest)}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def push_chart(self, path: str, archive: bytes, *, name: str, version: str) -> str:
        """Push a chart archive as `path/name:version` (a `+` in the version becomes `_`);
        returns the manifest's digest."""
        repository = f"{path}/{name}"
        config = json.dumps({"apiVersion": "v2", "name": name, "version": version}).encode()
        config_digest = self.push_blob(repository, config)
        layer_digest = self.push_blob(repository, archive)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": HELM_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": HELM_LAYER, "digest": layer_digest, "size": len(archive)}],
            }
        ).encode()
        tag = version.replace("+", "_")
        self._request(
            "PUT",
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        return "sha256:" + hashlib.sha256(manifest).hexdigest()


def _htpasswd(path: Path, user: str, password: str) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")


@contextmanager
def running_registry(
    directory: Path, *, auth: tuple[str, str] | None = None, tokens: TokenServer | None = None
) -> Iterator[Registry]:
    """The distribution registry on a free port, its storage and config in `directory`: open,
    behind Basic `auth`, or, with `tokens`, behind token authentication from that server
    (`auth` then being the credentials the token server takes)."""
    if not Path(REGISTRY).exists() and shutil.which("docker-registry") is None:
        raise RegistryUnavailable(
            "docker-registry not found: apt-get install -y docker-registry (bash .ci/run does)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "fleetsync-tests"},
    }
    if tokens is not None:
        config["auth"] = {
            "token": {
                "realm": tokens.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(tokens.certificate),
            }
        }
    elif auth is not None:
        _htpasswd(directory / "htpasswd", *auth)
        config["auth"] = {"htpasswd": {"realm": "fleetsync", "path": str(directory / "htpasswd")}}
    (directory / "config.yml").write_text(yaml.safe_dump(config))
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY, "serve", str(directory / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    registry = Registry(port=port, auth=auth, token_auth=tokens is not None)

    def ready() -> bool:
        if process.poll() is not None:
            raise RegistryUnavailable(
                f"docker-registry exited: {(directory / 'registry.log').read_text()[-2000:]}"
            )
        try:
            urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=2).close()
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except OSError:
            return False
        return True

    try:
        wait_for(ready, timeout=30, what="docker-registry to answer")
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
