"""Real Kubernetes control planes for tests (kube-apiserver, kube-controller-manager, etcd),
started with the `realk8s` tool the way controller-runtime projects use envtest.

Where `realk8s` is found, in order: `FLEETSYNC_REALK8S` (the script's path), then
`<repository>/../shared/k8s/realk8s`, then `/work/shared/k8s/realk8s`. It needs Debian's
`etcd-server` (`.ci/run` installs it).

The clusters are shared by the whole test session (a few seconds and about 400 MB each): tests
isolate themselves with their own namespaces and names. When the clusters cannot be started,
tests that need them are skipped with the reason, and the session's summary says so loudly;
with `FLEETSYNC_REQUIRE_REAL_K8S=1` (set by `.ci/run`) they fail instead, so CI never passes
without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
REQUIRE_ENV = "FLEETSYNC_REQUIRE_REAL_K8S"
CLUSTERS_ENV = "FLEETSYNC_REAL_CLUSTERS"
DEFAULT_CLUSTERS = 2


class RealK8sUnavailable(RuntimeError):
    """Real clusters cannot be started here; the message says why and how to fix it."""


@dataclass(frozen=True)
class RealClusters:
    """Running real clusters: `kubeconfigs[i]` reaches cluster `names[i]` as an admin."""

    directory: Path
    names: tuple[str, ...]
    kubeconfigs: tuple[Path, ...]

    def kubeconfig(self, index: int = 0) -> Path:
        return self.kubeconfigs[index]


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def locate_realk8s() -> Path:
    """The realk8s script, or RealK8sUnavailable naming every place looked at."""
    candidates = []
    if explicit := os.environ.get("FLEETSYNC_REALK8S"):
        candidates.append(Path(explicit))
    candidates += [
        REPOSITORY.parent / "shared" / "k8s" / "realk8s",
        Path("/work/shared/k8s/realk8s"),
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise RealK8sUnavailable(f"realk8s not found (looked at {looked}); set FLEETSYNC_REALK8S")


def check_prerequisites() -> Path:
    script = locate_realk8s()
    if shutil.which("etcd") is None:
        raise RealK8sUnavailable("etcd not found: apt-get install -y etcd-server")
    if shutil.which("openssl") is None:
        raise RealK8sUnavailable("openssl not found: apt-get install -y openssl")
    return script


@contextmanager
def running_real_clusters(directory: Path, count: int | None = None) -> Iterator[RealClusters]:
    """Start `count` real clusters under `directory`; stop exactly them on exit."""
    script = check_prerequisites()
    count = count or int(os.environ.get(CLUSTERS_ENV, DEFAULT_CLUSTERS))
    started = subprocess.run(
        [sys.executable, str(script), "start", str(directory), "--clusters", str(count)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        if started.returncode != 0:
            raise RealK8sUnavailable(
                f"realk8s start failed ({started.returncode}):\n{started.stdout}{started.stderr}"
            )
        names = tuple(f"real{i}" for i in range(1, count + 1))
        kubeconfigs = tuple(directory / "kube" / f"{name}.yaml" for name in names)
        missing = [str(k) for k in kubeconfigs if not k.is_file()]
        if missing:
            raise RealK8sUnavailable(f"realk8s started but wrote no kubeconfig {missing}")
        yield RealClusters(directory=directory, names=names, kubeconfigs=kubeconfigs)
    finally:
        subprocess.run(
            [sys.executable, str(script), "stop", str(directory)],
            capture_output=True,
            timeout=120,
        )


def etcd_client_url(clusters: RealClusters, index: int) -> str:
    """The client URL of cluster `index`'s etcd (read from its command line, which `realk8s`
    records by pid in `<directory>/pids`)."""
    name = f"c{index + 1}-etcd"
    for line in (clusters.directory / "pids").read_text().splitlines():
        pid, _, rest = line.partition(" ")
        if rest.split(" ")[0] != name:
            continue
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        return argv[argv.index("--listen-client-urls") + 1].split(",")[0]
    raise RealK8sUnavailable(f"no {name} in {clusters.directory / 'pids'}")


def compact_etcd(clusters: RealClusters, index: int) -> int:
    """Compact cluster `index`'s etcd at its current revision (what kube-apiserver does every
    five minutes), through etcd's JSON gateway; returns the revision."""
    url = etcd_client_url(clusters, index)

    def post(path: str, body: dict[str, object]) -> dict[str, Any]:
        request = urllib.request.Request(
            url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    revision = int(post("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
    return revision
