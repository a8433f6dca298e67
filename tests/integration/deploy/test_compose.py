"""docker-compose.yml: valid for compose, the design's services with their commands, secrets
only from the environment, the fleet and kubeconfigs read-only."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SECRETS = {
    "FLEETSYNC_API_TOKEN": "t",
    "FLEETSYNC_WEBHOOK_SECRET": "s",
    "FLOWER_BASIC_AUTH": "a:b",
    "FLEETSYNC_REDIS_PASSWORD": "redis-pw",
}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is required (.ci/run installs Debian's docker-compose)"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = compose("config", env=SECRETS)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = yaml.safe_load(done.stdout)
    return loaded


def test_compose_validates_with_the_design_s_services(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == {
        "redis",
        "beat",
        "fetch-worker",
        "apply-worker",
        "notify-worker",
        "watcher",
        "api",
        "flower",
    }
    command = {n: " ".join(s.get("command") or []) for n, s in services.items()}
    assert "fleetsync.scheduler.beat beat" in command["beat"]
    assert "-Q poll,fetch" in command["fetch-worker"]
    assert "-Q apply -P threads" in command["apply-worker"]
    assert "-Q notify -P threads" in command["notify-worker"]
    assert command["watcher"] == "fleetsync watch"
    assert "flower" in command["flower"]


def test_compose_refuses_to_start_without_each_secret() -> None:
    for name in SECRETS:
        done = compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != name})
        assert done.returncode != 0 and f"set {name}" in done.stderr, name


def test_no_literal_secret_and_read_only_mounts() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SECRETS:
        if name != "FLEETSYNC_REDIS_PASSWORD":
            assert f"{name}: ${{{name}:?" in text, name
    assert "redis-pw" not in text
    raw = yaml.safe_load(text)
    for name, service in raw["services"].items():
        for volume in service.get("volumes") or []:
            if "fleet.yaml" in volume or "kubeconfigs" in volume:
                assert volume.endswith(":ro"), (name, volume)


FLEETSYNC = (
    "beat",
    "fetch-worker",
    "apply-worker",
    "notify-worker",
    "watcher",
    "api",
    "flower",
)


def test_redis_persists_on_a_volume_and_requires_the_password_every_service_uses(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    redis = services["redis"]
    script = " ".join(redis["command"])
    for option in ("--dir /data", "--appendonly yes", "--appendfsync everysec", "requirepass"):
        assert option in script, option
    assert "redis-pw" not in script  # read from the environment by the shell, not the argv
    assert redis["environment"]["REDIS_PASSWORD"] == "redis-pw"
    volumes = [
        v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in redis["volumes"]
    ]
    assert any(v.split(":")[:2] == ["redis-data", "/data"] for v in volumes), volumes
    assert "redis-data" in config["volumes"]
    assert "ports" not in redis
    for name in FLEETSYNC:
        url = services[name]["environment"]["FLEETSYNC_REDIS_URL"]
        assert url == "redis://:redis-pw@redis:6379/0", name


def test_each_secret_reaches_only_its_service(config: dict[str, Any]) -> None:
    only = {
        "FLEETSYNC_API_TOKEN": {"api"},
        "FLEETSYNC_WEBHOOK_SECRET": {"api"},
        "FLOWER_BASIC_AUTH": {"flower"},
        "GIT_TOKEN": {"fetch-worker"},
        "GIT_USER": {"fetch-worker"},
        "OPS_HOOK_URL": {"notify-worker"},
        "OPS_HOOK_SECRET": {"notify-worker"},
    }
    for variable, services in only.items():
        holders = {
            n for n, s in config["services"].items() if variable in (s.get("environment") or {})
        }
        assert holders == services, variable
