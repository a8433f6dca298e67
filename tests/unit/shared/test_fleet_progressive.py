"""fleet.yaml's rollouts, dependencies and change windows: what they declare, and each mistake
named by line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.fleet import FleetError, FleetReport, parse_fleet
from fleetsync.shared.fleet.loading import check_text
from fleetsync.shared.model.declaration import FailurePolicy, Fleet, WindowKind

BASE = Path("/srv/fleet")

HEADER = """\
repositories:
  - {name: platform, url: "https://git.example.com/platform.git"}
clusters:
  - {name: canary-1, kubeconfig: /kube/c.yaml, labels: {ring: canary, env: prod}}
  - {name: eu-1, kubeconfig: /kube/e.yaml, labels: {ring: main, env: prod}}
  - {name: us-1, kubeconfig: /kube/u.yaml, labels: {ring: main, env: prod}}
"""


def text(body: str) -> str:
    return HEADER + body


def parse(body: str) -> Fleet:
    return parse_fleet(text(body), source="fleet.yaml", base_dir=BASE)


def check(body: str) -> FleetReport:
    return check_text(text(body), source="fleet.yaml", base_dir=BASE)


def errors(body: str) -> list[str]:
    with pytest.raises(FleetError) as caught:
        parse(body)
    return [str(issue) for issue in caught.value.issues]


APPS = """\
applications:
  - {name: db, repository: platform, path: db, targets: {selector: {}}}
  - name: web
    repository: platform
    path: web
    targets: {selector: {}}
"""


def test_a_rollout_policy_with_every_key_and_the_fleet_default_for_the_others() -> None:
    fleet = parse(
        "defaults:\n  rollout: {bake: 5m}\n"
        + APPS
        + """\
    dependsOn: [db]
    rollout:
      waves:
        - {name: canary, selector: {matchLabels: {ring: canary}}}
        - {name: eu, clusters: [eu-1]}
        - {name: some, percent: "50%"}
      maxParallel: 10
      bake: 0
      progressDeadline: 2m
      maxFailures: 1
      onFailure: rollback
"""
    )
    web, db = fleet.applications["web"], fleet.applications["db"]
    assert web.depends_on == ("db",)
    assert web.rollout is not None and [w.name for w in web.rollout.waves] == [
        "canary",
        "eu",
        "some",
    ]
    assert web.rollout.waves[2].percent == 50.0 and web.rollout.max_parallel == 10
    assert (web.rollout.bake, web.rollout.progress_deadline) == (0.0, 120.0)
    assert (web.rollout.max_failures, web.rollout.on_failure) == (1, FailurePolicy.ROLLBACK)
    assert db.rollout is not None and db.rollout.bake == 300.0  # the fleet's default
    assert Fleet.from_json(fleet.to_json()) == fleet


def test_rollout_false_opts_an_application_out_of_the_default() -> None:
    fleet = parse("defaults:\n  rollout: {bake: 1m}\n" + APPS + "    rollout: false\n")
    assert fleet.applications["web"].rollout is None
    assert fleet.applications["db"].rollout is not None


def test_a_dependency_missing_from_many_clusters_names_the_first_five() -> None:
    many = "".join(
        f"  - {{name: edge-{i}, kubeconfig: /kube/{i}.yaml, labels: {{ring: edge}}}}\n"
        for i in range(6)
    )
    body = APPS.replace("targets: {selector: {}}}", "targets: {clusters: [eu-1]}}")
    report = check_text(
        HEADER + many + body + "    dependsOn: [db]\n", source="fleet.yaml", base_dir=BASE
    )
    assert report.fleet is not None
    (warning,) = [str(w) for w in report.warnings if "does not target" in str(w)]
    assert warning.endswith(
        "'db' does not target canary-1, edge-0, edge-1, edge-2, edge-3 ...: "
        "'web' does not wait for it there"
    ), warning


def test_a_window_declared_twice_is_said_with_the_first_one_s_own_mistake() -> None:
    body = (
        APPS
        + """\
windows:
  - {name: freeze, kind: deny, schedule: "0 18 * * fri", duration: 2h, timezone: Mars/Olympus}
  - {name: freeze, kind: deny, schedule: "0 18 * * sat", duration: 2h}
"""
    )
    found = errors(body)
    assert len(found) == 2, found
    assert found[0].startswith("fleet.yaml:14: windows[0].timezone: "), found
    assert found[1] == "fleet.yaml:15: windows[1].name: window 'freeze' is already declared"


def test_a_mistaken_wave_or_dependency_does_not_hide_the_mistakes_after_it() -> None:
    waves = "{waves: [{name: a, percent: x}, {name: b, percent: 10}, {name: b, percent: 20}]}"
    assert errors(APPS + f"    rollout: {waves}\n") == [
        "fleet.yaml:13: applications[1].rollout.waves[0].percent: must be a percentage from 0 to "
        "100 (40 or '40%'), not a string",
        "fleet.yaml:13: applications[1].rollout.waves[2]: wave name 'b' is already used by wave 2",
    ]
    assert errors(APPS + "    dependsOn: [~, web]\n") == [
        "fleet.yaml:13: applications[1].dependsOn[0]: must be a string, not empty",
        "fleet.yaml:13: applications[1].dependsOn[1]: application 'web' cannot depend on itself",
    ]


def test_a_window_of_zero_seconds_is_refused() -> None:
    window = '{name: w, kind: deny, schedule: "0 1 * * *", duration: 0s}'
    assert errors(APPS + f"windows:\n  - {window}\n") == [
        "fleet.yaml:14: windows[0].duration: '0s': a window needs a positive duration (30m, 2h)"
    ]


def test_windows_are_declared_with_their_schedule_zone_scope_and_manual_sync() -> None:
    fleet = parse(
        APPS
        + """\
windows:
  - name: weekend
    kind: deny
    schedule: "0 18 * * fri"
    duration: 62h
    timezone: Europe/Paris
    applications: [web]
    clusters: {selector: {matchLabels: {env: prod}}}
    manualSync: true
"""
    )
    (window,) = fleet.windows
    assert (window.kind, window.duration, window.timezone) == (
        WindowKind.DENY,
        62 * 3600,
        "Europe/Paris",
    )
    assert window.applications == ("web",) and window.manual_sync and not window.self_heal
    assert window.selector is not None and window.selector.match_labels == {"env": "prod"}
    assert Fleet.from_json(fleet.to_json()) == fleet


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            APPS
            + """\
    rollout:
      waves:
        - {name: canary, clusters: [canary-1, eu-1]}
        - {name: main, selector: {matchLabels: {ring: main}}}
""",
            "fleet.yaml:13: applications[1].rollout: application 'web': cluster 'eu-1' is in "
            "wave 'canary' and in wave 'main'",
        ),
        (
            APPS + "    rollout: {waves: [{name: big, percent: 140}]}\n",
            "fleet.yaml:13: applications[1].rollout.waves[0].percent: 140 is outside 0-100",
        ),
        (
            APPS + "    rollout: {waves: [{name: neg, percent: -5}]}\n",
            "-5 is outside 0-100",
        ),
        (
            APPS + "    rollout: {waves: [{name: two, percent: 5, clusters: [eu-1]}]}\n",
            "a wave takes exactly one of clusters, selector or percent; found clusters and percent",
        ),
        (
            APPS + "    rollout: {maxParallel: 0, onFailure: retreat}\n",
            "maxParallel: must be at least 1, not 0",
        ),
        (
            APPS + "    dependsOn: [cache]\n",
            "fleet.yaml:13: applications[1].dependsOn[0]: application 'cache' is not declared; "
            "declared applications: db, web",
        ),
        (
            APPS.replace("targets: {selector: {}}}", "targets: {selector: {}}, dependsOn: [web]}")
            + "    dependsOn: [db]\n",
            "dependsOn forms a cycle: db -> web -> db",
        ),
        (
            APPS + "    dependsOn: [web]\n",
            "application 'web' cannot depend on itself",
        ),
        (
            APPS + "    rollout: {waves: [{name: two, percent: forty}]}\n",
            "fleet.yaml:13: applications[1].rollout.waves[0].percent: must be a percentage from 0 "
            "to 100 (40 or '40%'), not a string",
        ),
        (
            APPS + 'windows:\n  - {kind: deny, schedule: "@daily", duration: 1h}\n',
            "fleet.yaml:14: windows[0]: missing required key 'name'",
        ),
        (
            APPS + 'windows:\n  - {name: w, kind: deny, schedule: "0 25 * * *", duration: 1h}\n',
            "windows[0].schedule: not a cron schedule: '0 25 * * *': hour 25 is out of range 0-23",
        ),
        (
            APPS + 'windows:\n  - {name: w, kind: deny, schedule: "@daily", duration: -30m}\n',
            "windows[0].duration: '-30m': a window needs a positive duration",
        ),
        (
            APPS + 'windows:\n  - {name: w, kind: deny, schedule: "@daily", duration: 0}\n',
            "windows[0].duration: '0': a window needs a positive duration",
        ),
        (
            APPS
            + 'windows:\n  - {name: w, kind: open, schedule: "@daily", duration: 1h,\n'
            + "     timezone: Moon/Base}\n",
            "windows[0].timezone: 'Moon/Base': not a time zone",
        ),
        (
            APPS
            + 'windows:\n  - {name: w, kind: deny, schedule: "@daily", duration: 1h,\n'
            + "     applications: [api]}\n",
            "application 'api' is not declared",
        ),
    ],
)
def test_each_mistake_is_named_by_line_and_key(body: str, message: str) -> None:
    found = errors(body)
    assert any(message in e for e in found), found


def test_a_wave_that_takes_no_cluster_is_a_warning() -> None:
    report = check(
        APPS + "    rollout: {waves: [{name: asia, selector: {matchLabels: {ring: asia}}}]}\n"
    )
    assert report.fleet is not None
    assert [str(w) for w in report.warnings if "rollout" in str(w)] == [
        "fleet.yaml:13: applications[1].rollout: application 'web': wave 'asia' takes no cluster"
    ]


def test_a_dependency_that_does_not_target_a_cluster_is_not_waited_for_there() -> None:
    body = APPS.replace(
        "{name: db, repository: platform, path: db, targets: {selector: {}}}",
        "{name: db, repository: platform, path: db, targets: {clusters: [eu-1]}}",
    )
    report = check(body + "    dependsOn: [db]\n")
    assert report.fleet is not None
    assert any("'db' does not target canary-1, us-1" in str(w) for w in report.warnings)
