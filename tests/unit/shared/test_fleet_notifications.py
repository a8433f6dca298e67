"""fleet.yaml's `notifications`: read into typed values, and every mistake named by its line,
its key and what to write instead, never echoing a URL's secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.fleet import FleetError, parse_fleet
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.notification import EventKind, Notification, NotifierKind

HEAD = """\
repositories: [{name: r, url: https://git.example.com/r.git}]
clusters: [{name: c1, kubeconfig: /tmp/c1.kubeconfig}]
applications: [{name: web, repository: r, path: web, targets: {clusters: [c1]}}]
notifications:
"""


def parse(entries: str) -> Fleet:
    return parse_fleet(HEAD + entries, source="fleet.yaml", base_dir=Path("/tmp"))


def problems(entries: str) -> list[str]:
    with pytest.raises(FleetError) as caught:
        parse(entries)
    return [str(issue) for issue in caught.value.issues]


def test_notifications_are_read_and_travel_with_the_declaration() -> None:
    fleet = parse(
        "  - {name: ops, url_env: OPS_URL, secret_env: OPS_SECRET, events: [sync-failed, drift],"
        " applications: [web], clusters: [c1], maxPerMinute: 5}\n"
        "  - {name: team, kind: slack, url_env: SLACK_URL, events: [rollout-finished]}\n"
        "  - {name: plain, url: 'https://hooks.example.com/fleet', events: [degraded]}\n"
    )
    assert fleet.notifications[0] == Notification(
        name="ops",
        kind=NotifierKind.WEBHOOK,
        events=(EventKind.SYNC_FAILED, EventKind.DRIFT),
        url_env="OPS_URL",
        secret_env="OPS_SECRET",
        applications=("web",),  # type: ignore[arg-type]
        clusters=("c1",),  # type: ignore[arg-type]
        per_minute=5,
    )
    assert fleet.notifications[1].kind is NotifierKind.SLACK
    assert fleet.notifications[2].url == "https://hooks.example.com/fleet"
    assert Fleet.from_json(fleet.to_json()) == fleet


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{name: ops, url_env: X, events: [sync-fail]}",
            "fleet.yaml:5: notifications[0].events[0]: 'sync-fail' is not one of sync-failed,"
            " degraded, drift, rollout-paused, rollout-finished, source-error; did you mean"
            " 'sync-failed'?",
        ),
        (
            "{name: ops, url_env: X, events: []}",
            "fleet.yaml:5: notifications[0].events: name at least one event: sync-failed,"
            " degraded, drift, rollout-paused, rollout-finished, source-error",
        ),
        (
            "{name: ops, events: [drift]}",
            "fleet.yaml:5: notifications[0]: missing 'url_env' (or 'url'): where to send the"
            " messages",
        ),
        (
            "{name: ops, url: 'https://h/x', url_env: X, events: [drift]}",
            "fleet.yaml:5: notifications[0].url: give either url or url_env, not both",
        ),
        (
            "{name: ops, url: 'https://me:hunter2@h/x', events: [drift]}",
            "fleet.yaml:5: notifications[0].url: must not carry a password; put the URL in a"
            " variable named by url_env",
        ),
        (
            "{name: ops, url: 'ftp://h/secret-path', events: [drift]}",
            "fleet.yaml:5: notifications[0].url: 'ftp://h/...' is not an http or https URL",
        ),
        (
            "{name: ops, kind: slack, url: 'https://hooks.slack.com/services/T0/B0/XyZ',"
            " events: [drift]}",
            "fleet.yaml:5: notifications[0].url: a Slack webhook URL holds its secret in its"
            " path: put it in an environment variable and name the variable in url_env",
        ),
        (
            "{name: ops, kind: slack, url_env: X, secret_env: S, events: [drift]}",
            "fleet.yaml:5: notifications[0].secret_env: applies only to kind webhook (a Slack URL"
            " is its own secret)",
        ),
        (
            "{name: ops, url_env: X, events: [drift], applications: [api]}",
            "fleet.yaml:5: notifications[0].applications[0]: application 'api' is not declared;"
            " declared applications: web",
        ),
        (
            "{name: ops, url_env: X, events: [drift], clusters: [c2]}",
            "fleet.yaml:5: notifications[0].clusters[0]: cluster 'c2' is not declared; declared"
            " clusters: c1",
        ),
        (
            "{name: ops, url_env: X, events: [drift], maxPerMinute: 1000}",
            "fleet.yaml:5: notifications[0].maxPerMinute: must be at most 600",
        ),
        (
            "{name: ops, url_env: 'https://hooks.example.com/x', events: [drift]}",
            "fleet.yaml:5: notifications[0].url_env: must name an environment variable (letters,"
            " digits and '_', not starting with a digit), not hold a value",
        ),
        (
            "{name: ops, url_env: X, events: [drift], channel: '#ops'}",
            "fleet.yaml:5: notifications[0].channel: unknown key 'channel'; allowed keys: name,"
            " kind, url, url_env, secret_env, events, applications, clusters, maxPerMinute",
        ),
    ],
)
def test_a_mistake_is_named_by_line_and_key(entry: str, expected: str) -> None:
    found = problems(f"  - {entry}\n")
    assert found == [expected]
    assert "hunter2" not in "".join(found) and "XyZ" not in "".join(found)


def test_two_notifications_of_one_name_are_refused() -> None:
    found = problems(
        "  - {name: ops, url_env: X, events: [drift]}\n"
        "  - {name: ops, url_env: Y, events: [drift]}\n"
    )
    assert found == [
        "fleet.yaml:6: notifications[1].name: 'ops' is already declared in notifications at line 5"
    ]
