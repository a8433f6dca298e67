"""Git webhooks through a real HTTP server: a verified push enqueues a manual poll of the
declared repository it moves, anything else enqueues nothing and says why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fleetsync.scheduler.api.webhook_verify import Provider, WebhookSecrets, sign
from fleetsync.shared.tasking import TaskName
from tests.integration.api.conftest import WEBHOOK_SECRET, RunningApi, StartApi

POLL_PLATFORM = (TaskName.POLL.value, {"repo": "platform", "force": False, "fetch": True}, 0)


def github_push(
    url_field: str = "ssh_url", url: str = "git@git.example.com:org/platform.git"
) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "after": "a" * 40,
            "repository": {"full_name": "org/platform", url_field: url},
        }
    ).encode()


def github_headers(
    body: bytes, *, event: str = "push", secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": f"sha256={sign(secret, body)}",
        "Content-Type": "application/json",
    }


def post(api: RunningApi, provider: str, body: bytes, headers: dict[str, str]) -> Any:
    return api.http.post(f"/webhooks/{provider}", content=body, headers=headers)


def test_signed_github_push_enqueues_a_manual_poll_of_the_declared_repository(
    api: RunningApi,
) -> None:
    body = github_push()
    response = post(api, "github", body, github_headers(body))
    assert response.status_code == 202, response.text
    assert response.json()["enqueued"] == ["platform"]
    assert api.queued("poll") == [POLL_PLATFORM]


def test_forged_github_signature_is_refused_and_enqueues_nothing(api: RunningApi) -> None:
    body = github_push()
    response = post(api, "github", body, github_headers(body, secret="guessed"))
    assert response.status_code == 401
    assert "does not match" in response.json()["detail"]
    unsigned = {k: v for k, v in github_headers(body).items() if k != "X-Hub-Signature-256"}
    assert post(api, "github", body, unsigned).status_code == 401
    assert api.queued("poll") == []


def test_github_ping_is_answered_and_enqueues_nothing(api: RunningApi) -> None:
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    response = post(api, "github", body, github_headers(body, event="ping"))
    assert response.status_code == 200
    assert response.json()["message"] == "pong"
    assert api.queued("poll") == []


def test_gitlab_push_is_accepted_with_the_token_and_refused_with_another(
    api: RunningApi,
) -> None:
    body = json.dumps(
        {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "project": {
                "git_http_url": "https://git.example.com/org/platform.git",
                "git_ssh_url": "ssh://git@git.example.com:2222/org/platform.git",
            },
        }
    ).encode()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u-1"}
    refused = post(api, "gitlab", body, {**headers, "X-Gitlab-Token": "wrong"})
    assert refused.status_code == 401
    assert api.queued("poll") == []
    accepted = post(api, "gitlab", body, {**headers, "X-Gitlab-Token": WEBHOOK_SECRET})
    assert accepted.status_code == 202, accepted.text
    assert api.queued("poll") == [POLL_PLATFORM]


def test_gitea_push_signed_with_a_hex_hmac_enqueues_a_poll(api: RunningApi) -> None:
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"html_url": "https://git.example.com/Org/Platform"},
        }
    ).encode()
    headers = {
        "X-Gitea-Event": "push",
        "X-Gitea-Delivery": "g-1",
        "X-Gitea-Signature": sign(WEBHOOK_SECRET, body),
    }
    response = post(api, "gitea", body, headers)
    assert response.status_code == 202, response.text
    assert api.queued("poll") == [POLL_PLATFORM]


def test_generic_push_naming_a_declared_repository_enqueues_a_poll(api: RunningApi) -> None:
    body = b'{"repository": "platform", "ref": "refs/heads/main"}'
    headers = {"X-Fleetsync-Signature": f"sha256={sign(WEBHOOK_SECRET, body)}"}
    response = post(api, "generic", body, headers)
    assert response.status_code == 202, response.text
    assert response.json()["enqueued"] == ["platform"]
    assert api.queued("poll") == [POLL_PLATFORM]


def test_push_of_an_undeclared_repository_or_a_pinned_one_enqueues_nothing(
    api: RunningApi,
) -> None:
    for url in ("https://git.example.com/org/elsewhere.git", "git@git.example.com:org/pinned.git"):
        body = github_push("clone_url", url)
        response = post(api, "github", body, github_headers(body))
        assert response.status_code == 202, response.text
        assert response.json()["enqueued"] == []
        assert "no declared repository" in response.json()["message"]
    assert api.queued("poll") == []


def test_body_over_one_mebibyte_is_refused_with_413_and_the_server_keeps_serving(
    api: RunningApi,
) -> None:
    big = b"{" + b" " * (1 << 20) + b"}"
    response = post(api, "github", big, github_headers(big))
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(17):
            yield b" " * (1 << 16)

    chunked = api.http.post(
        "/webhooks/generic", content=chunks(), headers={"X-Fleetsync-Signature": "sha256=00"}
    )
    assert chunked.status_code == 413
    assert api.http.get("/healthz").status_code == 200
    assert api.queued("poll") == []


def test_malformed_json_with_a_valid_signature_is_refused_with_400(api: RunningApi) -> None:
    body = b'{"ref": "refs/heads/main", "repository": '
    response = post(api, "github", body, github_headers(body))
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]
    not_a_push = b'{"ref": "refs/heads/main"}'
    assert post(api, "github", not_a_push, github_headers(not_a_push)).status_code == 400
    assert api.http.get("/healthz").status_code == 200


def test_provider_without_a_secret_is_refused_naming_the_variable_to_set(
    start_api: StartApi,
) -> None:
    api = start_api(webhook_secrets=WebhookSecrets({Provider.GITHUB: WEBHOOK_SECRET}))
    body = b'{"ref": "refs/heads/main", "repository": {"clone_url": "x"}}'
    response = post(api, "gitea", body, {"X-Gitea-Event": "push", "X-Gitea-Signature": "00"})
    assert response.status_code == 401
    assert "FLEETSYNC_WEBHOOK_SECRET_GITEA" in response.json()["detail"]


def test_replayed_delivery_enqueues_no_second_poll_while_the_first_is_queued(
    api: RunningApi,
) -> None:
    body = github_push()
    first = post(api, "github", body, github_headers(body))
    replay = post(api, "github", body, github_headers(body))
    assert first.json()["enqueued"] == ["platform"]
    assert replay.status_code == 202
    assert replay.json() == {
        "event": "push",
        "enqueued": [],
        "already_queued": ["platform"],
        "message": "",
    }
    assert api.queued("poll") == [POLL_PLATFORM]
