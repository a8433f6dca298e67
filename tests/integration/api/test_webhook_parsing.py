"""The pure half of webhooks, as tables: URL keys, ref matching, signatures, payload parsing.
(Pure tests, kept beside the API's integration tests.)"""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.scheduler.api.repo_urls import repo_url_key
from fleetsync.scheduler.api.webhook_events import (
    EventKind,
    PayloadError,
    Push,
    classify_event,
    match_repositories,
    parse_push,
    ref_matches,
)
from fleetsync.scheduler.api.webhook_verify import Provider, WebhookSecrets, sign, verify_delivery
from tests.integration.api.conftest import PINNED_SHA, example_fleet

SAME_REPOSITORY = [
    "https://git.example.com/org/repo.git",
    "https://git.example.com/org/repo",
    "https://git.example.com/org/repo/",
    "http://git.example.com:8080/org/repo.git",
    "https://user:pw@Git.Example.com/Org/Repo.git",
    "git@git.example.com:org/repo.git",
    "git@git.example.com:org/repo",
    "ssh://git@git.example.com/org/repo",
    "ssh://git@git.example.com:2222/org/repo.git",
    "git://git.example.com/org/repo.git",
]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_every_form_of_a_repository_url_has_the_same_key(url: str) -> None:
    assert repo_url_key(url) == "git.example.com/org/repo"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://git.example.com/org/repo.git", "https://git.example.com/org/repo2.git"),
        ("https://git.example.com/org/repo.git", "https://other.example.com/org/repo.git"),
        ("https://git.example.com/group/sub/repo.git", "https://git.example.com/group/repo.git"),
        ("/srv/git/repo.git", "git.example.com:/srv/git/repo.git"),
    ],
)
def test_different_repositories_have_different_keys(a: str, b: str) -> None:
    assert repo_url_key(a) != repo_url_key(b)


def test_local_repositories_are_keyed_by_path() -> None:
    assert (
        repo_url_key("file:///srv/git/repo.git")
        == repo_url_key("/srv/git/repo")
        == ("file:/srv/git/repo")
    )


@pytest.mark.parametrize(
    ("declared", "pushed", "moves"),
    [
        ("main", "refs/heads/main", True),
        ("main", "refs/heads/maintenance", False),
        ("main", "refs/heads/dev", False),
        ("v1.2", "refs/tags/v1.2", True),
        ("refs/heads/main", "refs/heads/main", True),
        ("refs/heads/main", "main", True),
        ("refs/heads/main", "refs/tags/main", False),
        ("main", None, True),
        ("HEAD", "refs/heads/whatever", True),
        ("HEAD", "refs/tags/v1", False),
        (PINNED_SHA, "refs/heads/main", False),
        (PINNED_SHA, None, False),
    ],
)
def test_a_push_moves_a_declared_ref_only_when_it_names_it(
    declared: str, pushed: str | None, moves: bool
) -> None:
    assert ref_matches(declared, pushed) is moves


BODY = b'{"ref": "refs/heads/main"}'


@pytest.mark.parametrize(
    ("provider", "headers", "accepted"),
    [
        (Provider.GITHUB, {"X-Hub-Signature-256": f"sha256={sign('s', BODY)}"}, True),
        (Provider.GITHUB, {"x-hub-signature-256": f"sha256={sign('s', BODY).upper()}"}, True),
        (Provider.GITHUB, {"X-Hub-Signature-256": sign("s", BODY)}, False),
        (Provider.GITHUB, {"X-Hub-Signature-256": f"sha256={sign('t', BODY)}"}, False),
        (Provider.GITHUB, {"X-Hub-Signature": f"sha1={sign('s', BODY)}"}, False),
        (Provider.GITEA, {"X-Gitea-Signature": sign("s", BODY)}, True),
        (Provider.GITEA, {"X-Gitea-Signature": sign("s", BODY + b" ")}, False),
        (Provider.GITLAB, {"X-Gitlab-Token": "s"}, True),
        (Provider.GITLAB, {"X-Gitlab-Token": "s "}, False),
        (Provider.GITLAB, {}, False),
        (Provider.GENERIC, {"X-Fleetsync-Signature": f"sha256={sign('s', BODY)}"}, True),
        (Provider.GENERIC, {"X-Fleetsync-Signature": "sha256=zz"}, False),
    ],
)
def test_signatures_are_checked_per_provider(
    provider: Provider, headers: dict[str, str], accepted: bool
) -> None:
    assert (verify_delivery(provider, "s", headers, BODY) is None) is accepted


def test_a_provider_secret_overrides_the_shared_one_and_empty_means_unset() -> None:
    secrets = WebhookSecrets.from_env(
        {
            "FLEETSYNC_WEBHOOK_SECRET": "shared",
            "FLEETSYNC_WEBHOOK_SECRET_GITLAB": "gl",
            "FLEETSYNC_WEBHOOK_SECRET_GITEA": "",
        }
    )
    assert secrets.secret_for(Provider.GITLAB) == "gl"
    assert secrets.secret_for(Provider.GITHUB) == "shared"
    assert secrets.secret_for(Provider.GITEA) == "shared"
    assert WebhookSecrets.from_env({}).secret_for(Provider.GITHUB) is None
    assert "gl" not in repr(secrets) and "shared" not in repr(secrets)


@pytest.mark.parametrize(
    ("provider", "event", "kind"),
    [
        (Provider.GITHUB, "push", EventKind.PUSH),
        (Provider.GITHUB, "ping", EventKind.PING),
        (Provider.GITHUB, "issues", EventKind.IGNORED),
        (Provider.GITLAB, "Push Hook", EventKind.PUSH),
        (Provider.GITLAB, "Tag Push Hook", EventKind.PUSH),
        (Provider.GITLAB, "Merge Request Hook", EventKind.IGNORED),
        (Provider.GITEA, "push", EventKind.PUSH),
    ],
)
def test_events_are_classified_per_provider(
    provider: Provider, event: str, kind: EventKind
) -> None:
    header = {
        Provider.GITHUB: "X-GitHub-Event",
        Provider.GITLAB: "X-Gitlab-Event",
        Provider.GITEA: "X-Gitea-Event",
    }[provider]
    assert classify_event(provider, {header: event}) == (kind, event)


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        (
            Provider.GITHUB,
            {
                "ref": "refs/heads/main",
                "repository": {
                    "clone_url": "https://git.example.com/org/platform.git",
                    "html_url": "https://git.example.com/org/platform",
                },
            },
        ),
        (
            Provider.GITLAB,
            {
                "ref": "refs/heads/main",
                "project": {"git_ssh_url": "git@git.example.com:org/platform.git"},
            },
        ),
        (
            Provider.GITLAB,
            {
                "ref": "refs/heads/main",
                "repository": {"git_http_url": "https://git.example.com/org/platform.git"},
            },
        ),
        (
            Provider.GITEA,
            {
                "ref": "refs/heads/main",
                "repository": {"ssh_url": "ssh://git@git.example.com/org/platform.git"},
            },
        ),
        (
            Provider.GENERIC,
            {"repository": "https://git.example.com/org/platform", "ref": "main"},
        ),
        (Provider.GENERIC, {"repository": "platform"}),
    ],
)
def test_each_providers_push_payload_maps_to_the_declared_repository(
    provider: Provider, payload: dict[str, Any]
) -> None:
    push = parse_push(provider, payload)
    assert match_repositories(example_fleet(), push) == ["platform"]


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        (Provider.GITHUB, []),
        (Provider.GITHUB, {"repository": {"clone_url": "https://x/y"}}),
        (Provider.GITHUB, {"ref": "refs/heads/main", "repository": "https://x/y"}),
        (Provider.GITLAB, {"ref": "refs/heads/main", "project": {}}),
        (Provider.GENERIC, {"ref": "main"}),
        (Provider.GENERIC, {"repository": "platform", "ref": 3}),
    ],
)
def test_payloads_that_do_not_say_what_was_pushed_are_refused(
    provider: Provider, payload: Any
) -> None:
    with pytest.raises(PayloadError):
        parse_push(provider, payload)


def test_a_push_to_a_repository_pinned_to_a_sha_matches_nothing() -> None:
    push = Push(url_keys=frozenset({"git.example.com/org/pinned"}), ref="refs/heads/main")
    assert match_repositories(example_fleet(), push) == []
