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
    """Every workload (Deployments, and Redis's StatefulSet) by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] in ("Deployment", "StatefulSet")}


def container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found: dict[str, Any] = deployments(objects)[name]["spec"]["template"]["spec"]["containers"][0]
    return found


def test_every_process_of_the_design_runs_with_its_command(rendered: list[dict[str, Any]]) -> None:
    deploys = deployments(rendered)
    assert set(deploys) == {
        "beat",
        "fetch-worker",
        "apply-worker",
        "notify-worker",
        "watcher",
        "api",
        "flower",
        "redis",
    }
    command = {
        n: " ".join(d["spec"]["template"]["spec"]["containers"][0].get("command", []))
        for n, d in deploys.items()
    }
    assert "fleetsync.scheduler.beat beat" in command["beat"]
    assert "-Q poll,fetch" in command["fetch-worker"]
    assert "-Q apply -P threads" in command["apply-worker"]
    assert "-Q notify -P threads" in command["notify-worker"]
    assert command["api"].startswith("fleetsync api")
    assert "flower" in command["flower"]
    assert deploys["redis"]["kind"] == "StatefulSet"
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
            if name not in ("beat", "watcher"):
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
            if key.endswith(("TOKEN", "SECRET", "AUTH", "password")):
                assert text == "REPLACE_ME", key
            assert "BEGIN" not in text and "token:" not in text, key


FLEETSYNC = (
    "beat",
    "fetch-worker",
    "apply-worker",
    "notify-worker",
    "watcher",
    "api",
    "flower",
)


def test_redis_keeps_an_append_only_file_on_a_persistent_volume(
    rendered: list[dict[str, Any]],
) -> None:
    redis = deployments(rendered)["redis"]
    claims = {c["metadata"]["name"]: c["spec"] for c in redis["spec"]["volumeClaimTemplates"]}
    assert claims["data"]["accessModes"] == ["ReadWriteOnce"]
    pod = redis["spec"]["template"]["spec"]
    assert "volumes" not in pod or all(v["name"] != "data" for v in pod["volumes"])
    main = container(rendered, "redis")
    assert {"name": "data", "mountPath": "/data"} in main["volumeMounts"]
    script = " ".join(main["args"])
    for option in ("--dir /data", "--appendonly yes", "--appendfsync everysec"):
        assert option in script, option


def test_redis_requires_a_password_from_a_secret_that_every_fleetsync_pod_uses(
    rendered: list[dict[str, Any]],
) -> None:
    secrets = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Secret"}
    redis = container(rendered, "redis")
    env = {e["name"]: e for e in redis["env"]}
    ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] in secrets and ref["key"] == "password"
    assert "requirepass" in " ".join(redis["args"]) and "$REDIS_PASSWORD" in redis["args"][0]
    assert "REPLACE_ME" not in yaml.safe_dump(redis)
    for name in FLEETSYNC:
        env_list = container(rendered, name)["env"]
        names = [e["name"] for e in env_list]
        by_name = {e["name"]: e for e in env_list}
        assert by_name["FLEETSYNC_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == ref, name
        url = by_name["FLEETSYNC_REDIS_URL"]["value"]
        assert url == "redis://:$(FLEETSYNC_REDIS_PASSWORD)@redis:6379/0", name
        # Kubernetes expands $(VAR) only from variables defined before it.
        assert names.index("FLEETSYNC_REDIS_PASSWORD") < names.index("FLEETSYNC_REDIS_URL")


def test_only_fleetsync_s_pods_may_reach_redis(rendered: list[dict[str, Any]]) -> None:
    (policy,) = [o for o in rendered if o["kind"] == "NetworkPolicy"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "redis"}
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    (source,) = rule["from"]
    assert source == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "fleetsync"}}}
    for name in FLEETSYNC:
        labels = deployments(rendered)[name]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "fleetsync", name
    redis_labels = deployments(rendered)["redis"]["spec"]["template"]["metadata"]["labels"]
    assert redis_labels.get("app.kubernetes.io/name") != "fleetsync"


def test_each_secret_reaches_only_the_pods_that_need_it(rendered: list[dict[str, Any]]) -> None:
    wanted = {
        "fleetsync-git-credentials": {"fetch-worker"},
        "fleetsync-notify-secrets": {"notify-worker"},
        "fleetsync-api-secrets": {"api"},
        "fleetsync-flower-secrets": {"flower"},
        "fleetsync-redis": {"redis", *FLEETSYNC},
        "fleetsync-kubeconfigs": set(FLEETSYNC) - {"notify-worker"},
    }
    users: dict[str, set[str]] = {}
    for name, workload in deployments(rendered).items():
        text = yaml.safe_dump(workload["spec"]["template"])
        for secret in (o["metadata"]["name"] for o in rendered if o["kind"] == "Secret"):
            if secret in text:
                users.setdefault(secret.rsplit("-", 1)[0], set()).add(name)
    assert users == wanted


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
