"""The Kubernetes manifests for running fleetsync: rendered with the real kubectl (Kustomize),
held to the project's rules, and accepted by a Kubernetes API (kubesim, server-side dry-run)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsync.shared.render.kustomize import kubectl_binary
from kubesim import Simulator

BASE = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(kubectl_binary()), "kustomize", str(BASE)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


def test_every_process_of_the_design_runs_with_its_command(rendered: list[dict[str, Any]]) -> None:
    deploys = deployments(rendered)
    assert set(deploys) == {"beat", "fetch-worker", "apply-worker", "api", "flower", "redis"}
    command = {
        n: " ".join(d["spec"]["template"]["spec"]["containers"][0].get("command", []))
        for n, d in deploys.items()
    }
    assert "fleetsync.scheduler.beat beat" in command["beat"]
    assert "-Q poll,fetch" in command["fetch-worker"]
    assert "-Q apply -P threads" in command["apply-worker"]
    assert command["api"].startswith("fleetsync api")
    assert "flower" in command["flower"]
    assert deploys["beat"]["spec"]["replicas"] == 1
    assert deploys["beat"]["spec"]["strategy"]["type"] == "Recreate"


def test_every_container_is_bounded_probed_and_locked_down(rendered: list[dict[str, Any]]) -> None:
    for name, deploy in deployments(rendered).items():
        pod = deploy["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"cpu", "memory"} <= set(resources["limits"]), name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            if name != "beat":
                assert "livenessProbe" in container, name
    api = deployments(rendered)["api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_fleet_is_mounted_as_a_directory_so_edits_reach_the_beat(
    rendered: list[dict[str, Any]],
) -> None:
    beat = deployments(rendered)["beat"]["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m for m in beat["volumeMounts"]}
    assert "subPath" not in mounts["fleet"] and mounts["fleet"]["readOnly"] is True
    assert mounts["kubeconfigs"]["readOnly"] is True
    env = {e["name"]: e.get("value") for e in beat["env"]}
    assert env["FLEETSYNC_FLEET"].startswith(mounts["fleet"]["mountPath"] + "/")


def test_no_secret_holds_a_real_looking_credential(rendered: list[dict[str, Any]]) -> None:
    import base64

    for secret in (o for o in rendered if o["kind"] == "Secret"):
        for key, value in (secret.get("data") or {}).items():
            text = base64.b64decode(value).decode()
            if key.endswith(("TOKEN", "SECRET", "AUTH")):
                assert text == "REPLACE_ME", key
            assert "BEGIN" not in text and "token:" not in text, key


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Path]:
    with Simulator(clusters=["mgmt"], kubeconfig_dir=tmp_path) as sim:
        yield sim.kubeconfig_path("mgmt")


def test_a_kubernetes_api_accepts_the_manifests_on_a_server_side_dry_run(
    rendered: list[dict[str, Any]],
    cluster: Path,
    tmp_path: Path,
) -> None:
    kubectl = [str(kubectl_binary()), "--kubeconfig", str(cluster)]
    namespace = [o for o in rendered if o["kind"] == "Namespace"]
    rest = [o for o in rendered if o["kind"] != "Namespace"]
    (tmp_path / "ns.yaml").write_text(yaml.safe_dump_all(namespace))
    (tmp_path / "rest.yaml").write_text(yaml.safe_dump_all(rest))
    subprocess.run(
        [*kubectl, "apply", "--server-side", "-f", str(tmp_path / "ns.yaml")],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(tmp_path / "rest.yaml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("serverside-applied (server dry run)") == len(rest)
