"""Webhooks as providers send them by default: GitHub's form-encoded deliveries (its default
content type) beside JSON, Bitbucket Cloud pushes, and a refused content type that says which
one to choose. Payloads are shaped like the providers' own (trimmed to the fields that matter
and a few that do not), signed the way each provider signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import httpx

from fleetsync.shared.tasking import TaskName
from tests.integration.api.conftest import WEBHOOK_SECRET, RunningApi

POLL_PLATFORM = (TaskName.POLL.value, {"repo": "platform", "force": False, "fetch": True}, 0)

GITHUB_PUSH: dict[str, Any] = {
    "ref": "refs/heads/main",
    "before": "0" * 40,
    "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "repository": {
        "id": 186853002,
        "name": "platform",
        "full_name": "org/platform",
        "private": True,
        "html_url": "https://git.example.com/org/platform",
        "clone_url": "https://git.example.com/org/platform.git",
        "ssh_url": "git@git.example.com:org/platform.git",
        "default_branch": "main",
    },
    "pusher": {"name": "octocat", "email": "octocat@example.com"},
    "head_commit": {"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "message": "é ünïcode"},
}

BITBUCKET_PUSH: dict[str, Any] = {
    "push": {
        "changes": [
            {
                "new": {
                    "type": "branch",
                    "name": "main",
                    "target": {
                        "type": "commit",
                        "hash": "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
                    },
                },
                "old": {
                    "type": "branch",
                    "name": "main",
                    "target": {"hash": "1e65c05c1d5171631d92438a13901ca7dae9618c"},
                },
                "created": False,
                "forced": False,
                "closed": False,
            }
        ]
    },
    "repository": {
        "type": "repository",
        "full_name": "org/platform",
        "name": "platform",
        "uuid": "{b5f2e7a3-1c1f-4a4e-9a64-123456789abc}",
        "links": {"html": {"href": "https://git.example.com/org/platform"}},
    },
    "actor": {"display_name": "Operator", "type": "user"},
}


FORM = "application/x-www-form-urlencoded"


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_form(payload: dict[str, Any]) -> bytes:
    """What GitHub sends with content type application/x-www-form-urlencoded (its default)."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def github_push(body: bytes, content_type: str = FORM, signature: str = "") -> dict[str, str]:
    """The headers of a GitHub push delivery, signed over `body` unless `signature` is given."""
    return {
        "Content-Type": content_type,
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature or signed(WEBHOOK_SECRET, body),
    }


def bitbucket_event(
    body: bytes, event: str = "repo:push", secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    """The headers of a Bitbucket Cloud delivery of `event`, signed over `body` with `secret`."""
    return {
        "Content-Type": "application/json",
        "X-Event-Key": event,
        "X-Hub-Signature": signed(secret, body),
    }


def deliver(api: RunningApi, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return api.http.post(f"/webhooks/{provider}", content=body, headers=headers)


def test_github_form_encoded_push_is_verified_over_the_raw_body_and_polls(
    api: RunningApi,
) -> None:
    body = github_form(GITHUB_PUSH)
    delivery = {"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    answer = deliver(api, "github", body, {**github_push(body), **delivery})
    assert answer.status_code == 202, answer.text
    assert answer.json()["enqueued"] == ["platform"]
    assert api.queued("poll") == [POLL_PLATFORM]


def test_github_form_signed_over_the_json_instead_of_the_body_is_refused(api: RunningApi) -> None:
    body = github_form(GITHUB_PUSH)
    forged = signed(WEBHOOK_SECRET, json.dumps(GITHUB_PUSH).encode())
    answer = deliver(api, "github", body, github_push(body, signature=forged))
    assert answer.status_code == 401 and api.queued("poll") == []


def test_a_form_without_payload_is_a_400_saying_so(api: RunningApi) -> None:
    body = b"other=1"
    answer = deliver(api, "github", body, github_push(body))
    assert answer.status_code == 400 and "'payload'" in answer.json()["detail"]


def test_a_content_type_the_provider_cannot_send_is_a_415_naming_the_one_to_choose(
    api: RunningApi,
) -> None:
    body = json.dumps(GITHUB_PUSH).encode()
    gitlab = {"Content-Type": FORM, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": WEBHOOK_SECRET}
    answer = deliver(api, "gitlab", body, gitlab)
    assert answer.status_code == 415
    assert "'application/json'" in answer.json()["detail"]
    plain = deliver(api, "github", body, github_push(body, content_type="text/plain"))
    assert plain.status_code == 415
    detail = plain.json()["detail"]
    assert "text/plain" in detail and "application/x-www-form-urlencoded" in detail
    assert api.queued("poll") == []


def test_bitbucket_cloud_push_is_verified_and_polls_the_repository(api: RunningApi) -> None:
    body = json.dumps(BITBUCKET_PUSH).encode()
    request = {"X-Request-UUID": "8f1e6c0a-0b2c-4a4e-9a64-0123456789ab"}
    answer = deliver(api, "bitbucket", body, {**bitbucket_event(body), **request})
    assert answer.status_code == 202, answer.text
    assert answer.json()["enqueued"] == ["platform"]
    assert api.queued("poll") == [POLL_PLATFORM]


def test_bitbucket_push_of_another_branch_or_with_a_bad_signature_enqueues_nothing(
    api: RunningApi,
) -> None:
    other = json.loads(json.dumps(BITBUCKET_PUSH))
    other["push"]["changes"][0]["new"]["name"] = "feature"
    body = json.dumps(other).encode()
    answer = deliver(api, "bitbucket", body, bitbucket_event(body))
    assert answer.status_code == 202 and answer.json()["enqueued"] == []
    forged = deliver(api, "bitbucket", body, bitbucket_event(body, secret="guessed"))
    assert forged.status_code == 401
    ignored = deliver(api, "bitbucket", body, bitbucket_event(body, event="pullrequest:created"))
    assert ignored.status_code == 200 and "not a push" in ignored.json()["message"]
    assert api.queued("poll") == []
