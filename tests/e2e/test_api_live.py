"""The API on a running fleet: a signed push webhook rolls a commit out without waiting for a
poll, a manual sync goes through, and the metrics move with what really happened."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetsync.scheduler.api import create_app
from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.api.webhook_verify import Provider, WebhookSecrets
from fleetsync.shared.model.status import SyncState
from tests.integration.api.conftest import serving
from tests.support.fleet_harness import Harness
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.shop_fleet import CLUSTERS, SETTINGS, running_shop
from tests.support.waiting import wait_for

TOKEN = "api-token-for-the-test"
SECRET = "webhook-secret-for-the-test"


@pytest.fixture
def served(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[tuple[Harness, httpx.Client]]:
    # Polls once an hour: a commit reaches the clusters promptly only through the webhook.
    with running_shop(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        files={SETTINGS: configmap("settings", "one")},
        interval="3600s",
    ) as harness:
        app = create_app(
            harness.store,
            harness.runtime.sender,
            access=AccessPolicy(token=TOKEN),
            webhook_secrets=WebhookSecrets({p: SECRET for p in Provider}),
        )
        with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield harness, http


def metric(http: httpx.Client, line_start: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_signed_push_webhook_rolls_the_commit_out_without_waiting_for_a_poll(
    served: tuple[Harness, httpx.Client],
) -> None:
    harness, http = served
    sha = harness.commit("two", {SETTINGS: configmap("settings", "two")})
    body = json.dumps({"repository": harness.git_url, "ref": "refs/heads/main"}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = http.post(
        "/webhooks/generic",
        content=body,
        headers={
            "X-Fleetsync-Signature": f"sha256={signature}",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["enqueued"] == ["platform"]
    harness.wait_status(
        "shop",
        CLUSTERS,
        lambda s: sha in str(s.revision) and s.sync is SyncState.SYNCED,
        "the pushed commit on both clusters",
        timeout=30,
    )


def test_a_forged_webhook_changes_nothing(served: tuple[Harness, httpx.Client]) -> None:
    harness, http = served
    harness.commit("two", {SETTINGS: configmap("settings", "two")})
    body = json.dumps({"repository": harness.git_url, "ref": "refs/heads/main"}).encode()
    answer = http.post(
        "/webhooks/generic", content=body, headers={"X-Fleetsync-Signature": "sha256=" + "0" * 64}
    )
    assert answer.status_code == 401
    assert harness.store.queue_depths()["poll"] == 0


def test_metrics_move_with_a_manual_sync(served: tuple[Harness, httpx.Client]) -> None:
    _, http = served
    synced = 'fleetsync_reconciles_total{result="synced"}'
    before = metric(http, synced)
    assert metric(http, 'fleetsync_pairs{health="Healthy",sync="Synced"}') == 2
    refused = http.post("/api/v1/applications/shop/sync")
    assert refused.status_code == 401
    answer = http.post(
        "/api/v1/applications/shop/sync", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 202, answer.text
    wait_for(lambda: metric(http, synced) >= before + 2, what="two more synced reconciles")
