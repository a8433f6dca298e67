"""The `kubesim serve` console script, as a separate process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path


def test_serve_writes_kubeconfigs_and_serves_every_cluster(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim.cli",
            "serve",
            "--clusters",
            "3",
            "--kubeconfig-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("kubesim: serving 3 clusters at http://127.0.0.1:")
        url = line.split(" at ")[1].split()[0]
        names = sorted(p.name for p in tmp_path.glob("*.kubeconfig"))
        assert names == [
            "_combined.kubeconfig",
            "sim-001.kubeconfig",
            "sim-002.kubeconfig",
            "sim-003.kubeconfig",
        ]
        kubeconfig = json.loads((tmp_path / "sim-002.kubeconfig").read_text())
        server = kubeconfig["clusters"][0]["cluster"]["server"]
        assert server == f"{url}/clusters/sim-002"
        token = kubeconfig["users"][0]["user"]["token"]
        req = urllib.request.Request(
            f"{server}/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
        )
        listed = json.loads(urllib.request.urlopen(req, timeout=5).read())
        assert listed["kind"] == "NamespaceList"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
