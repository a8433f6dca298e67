"""`fleetsync api` as an operator runs it: a child process configured only by the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetsync.scheduler.api.webhook_verify import sign
from fleetsync.shared.store import Store
from tests.integration.api.conftest import example_fleet, publish
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def api_process(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The command's URL and its output (read it after the test: the process is stopped)."""
    port = free_port()
    log = tmp_path / "api.log"
    env = {
        **os.environ,
        "FLEETSYNC_REDIS_URL": redis_url,
        "FLEETSYNC_API_TOKEN": "process-token-0123456789",
        "FLEETSYNC_WEBHOOK_SECRET": "shared-secret",
    }
    cli = "from fleetsync.scheduler.cli import main; main()"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", cli, "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, timeout=30, what="fleetsync api to answer /healthz")
        yield url, log
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_api_command_serves_with_token_and_secret_from_the_environment(
    redis_url: str, api_process: tuple[str, Path]
) -> None:
    url, log = api_process
    store = Store.connect(redis_url)
    publish(store, example_fleet())
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        sync = "/api/v1/applications/api/sync"
        assert http.post(sync, headers={"Authorization": "Bearer nope"}).status_code == 401
        accepted = http.post(sync, headers={"Authorization": "Bearer process-token-0123456789"})
        assert accepted.status_code == 202, accepted.text
        body = json.dumps({"repository": "platform", "ref": "main"}).encode()
        signature = {"X-Fleetsync-Signature": f"sha256={sign('shared-secret', body)}"}
        pushed = http.post("/webhooks/generic", content=body, headers=signature)
        assert pushed.json()["enqueued"] == ["platform"]
    assert store.client.llen("apply") == 1 and store.client.llen("poll") == 1
    output = log.read_text()
    assert "webhook generic delivery" in output
    assert "process-token-0123456789" not in output and "shared-secret" not in output


@pytest.mark.parametrize("token", ["REPLACE_ME", "too-short"])
def test_the_api_command_refuses_to_start_with_a_placeholder_or_short_token(
    redis_url: str, token: str
) -> None:
    cli = "from fleetsync.scheduler.cli import main; main()"
    env = {**os.environ, "FLEETSYNC_REDIS_URL": redis_url, "FLEETSYNC_API_TOKEN": token}
    done = subprocess.run(
        [sys.executable, "-c", cli, "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FLEETSYNC_API_TOKEN" in done.stderr and "refusing to start" in done.stderr
    assert token not in done.stderr and "Traceback" not in done.stderr


def test_the_first_webhook_after_start_opens_no_connection_to_the_broker(
    redis_url: str, api_process: tuple[str, Path]
) -> None:
    """Celery's sender is built and connected as the API starts (`Sender.warm`), not by the
    first webhook: that webhook's send goes out on connections the process already holds."""
    url, _ = api_process
    store = Store.connect(redis_url)
    publish(store, example_fleet())
    body = json.dumps({"repository": "platform", "ref": "main"}).encode()
    signature = {"X-Fleetsync-Signature": f"sha256={sign('shared-secret', body)}"}
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200  # the store's own connection is open
        opened = store.client.info("stats")["total_connections_received"]

        pushed = http.post("/webhooks/generic", content=body, headers=signature)

    assert pushed.json()["enqueued"] == ["platform"]
    assert store.client.llen("poll") == 1
    assert store.client.info("stats")["total_connections_received"] == opened
