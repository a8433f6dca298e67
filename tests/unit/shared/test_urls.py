"""URLs as fleetsync shows them: never with their userinfo, in any form."""

from __future__ import annotations

import pytest

from fleetsync.shared.urls import display_url, redact_urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:tok@git.example.com/r.git", "https://git.example.com/r.git"),
        ("https://git.example.com/r.git", "https://git.example.com/r.git"),
        ("redis://:s3cr3t@redis:6379/0", "redis://redis:6379/0"),
        ("ssh://git@host:2222/a.git", "ssh://host:2222/a.git"),
        ("git@github.com:org/a.git", "github.com:org/a.git"),
        ("/srv/git/a@b", "/srv/git/a@b"),
        ("http://[bad@host/x", "host/x"),
        ("unix://:s3cr3t@/run/redis.sock?db=2", "unix:///run/redis.sock?db=2"),
        ("file:///srv/git/a.git", "file:///srv/git/a.git"),
    ],
)
def test_one_url_is_shown_without_its_userinfo(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_every_url_quoted_in_a_message_loses_its_userinfo() -> None:
    text = "fatal: cannot read 'https://bob:tok@h/r.git' nor http://x:y@h2/r; see man"
    assert redact_urls(text) == "fatal: cannot read 'https://h/r.git' nor http://h2/r; see man"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com/..."),
        ("https://u:p@hooks.example.com:8443/x?token=t", "https://hooks.example.com:8443/..."),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
    ],
)
def test_a_url_whose_path_may_be_its_secret_is_shown_as_scheme_and_host(
    url: str, shown: str
) -> None:
    assert display_url(url, path=False) == shown
