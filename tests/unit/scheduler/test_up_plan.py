"""What `fleetsync up` gives each child: the Git credentials only to the fetch worker, the
notifications' URLs and secrets only to the notify worker, the API's secrets only to the API,
Flower's only to Flower; fleetsync's own settings to all."""

from __future__ import annotations

from pathlib import Path

from fleetsync.scheduler.cli.up import (
    UpOptions,
    credential_variables,
    notification_variables,
    plan_processes,
    unset_notification_variables,
)
from fleetsync.shared.fleet import parse_fleet

FLEET = """\
repositories:
  - name: a
    url: https://git.example.com/a.git
    credentials: {username_env: GIT_USER_A, password_env: GIT_TOKEN_A}
  - name: b
    url: https://git.example.com/b.git
    credentials: {username_env: GIT_USER_A, password_env: GIT_TOKEN_B}
  - name: charts
    type: helm
    url: https://charts.example.com
    credentials: {token_env: CHART_TOKEN}
clusters: []
applications: []
notifications:
  - {name: ops, url_env: OPS_HOOK_URL, secret_env: OPS_HOOK_SECRET, events: [sync-failed]}
"""
ENVIRON = {
    "PATH": "/usr/bin",
    "HOME": "/home/me",
    "GIT_USER_A": "me",
    "GIT_TOKEN_A": "token-a",
    "GIT_TOKEN_B": "token-b",
    "CHART_TOKEN": "chart-token",
    "FLEETSYNC_API_TOKEN": "api-token",
    "FLEETSYNC_WEBHOOK_SECRET_GITHUB": "hook",
    "FLOWER_BASIC_AUTH": "u:p",
    "OPS_HOOK_URL": "https://hooks.example.com/T0/secret-path",
    "OPS_HOOK_SECRET": "hook-signing-secret",
}


def test_each_child_gets_only_the_secrets_of_its_role(tmp_path: Path) -> None:
    fleet = parse_fleet(FLEET, source="fleet.yaml", base_dir=tmp_path)
    names = credential_variables(fleet)
    assert names == {"GIT_USER_A", "GIT_TOKEN_A", "GIT_TOKEN_B", "CHART_TOKEN"}
    opts = UpOptions(
        fleet_file=tmp_path / "fleet.yaml",
        redis_url="redis://127.0.0.1:6379/0",
        cache_dir=tmp_path / "cache",
        environ=ENVIRON,
        credential_env=names,
        notify_env=notification_variables(fleet),
    )
    secrets = {k for k in ENVIRON if k not in ("PATH", "HOME")}
    expected = {
        "beat": set(),
        "apply": set(),
        "watch": set(),
        "fetch": names,
        "notify": {"OPS_HOOK_URL", "OPS_HOOK_SECRET"},
        "api": {"FLEETSYNC_API_TOKEN", "FLEETSYNC_WEBHOOK_SECRET_GITHUB"},
        "flower": {"FLOWER_BASIC_AUTH"},
    }
    specs = {spec.name: spec for spec in plan_processes(opts)}
    assert set(specs) == set(expected)
    for name, spec in specs.items():
        assert secrets & set(spec.env) == expected[name], name
        assert spec.env["PATH"] == "/usr/bin", name
        assert spec.env["FLEETSYNC_REDIS_URL"] == "redis://127.0.0.1:6379/0", name


def test_a_notification_variable_left_unset_is_named_before_start(tmp_path: Path) -> None:
    fleet = parse_fleet(FLEET, source="fleet.yaml", base_dir=tmp_path)
    assert unset_notification_variables(fleet, ENVIRON) == []
    without = {k: v for k, v in ENVIRON.items() if k != "OPS_HOOK_SECRET"}
    assert unset_notification_variables(fleet, without) == [
        "notification ops: OPS_HOOK_SECRET is not set; its messages will be dropped"
    ]


def test_workers_send_task_events_only_when_flower_runs_to_read_them(tmp_path: Path) -> None:
    def plan(with_flower: bool) -> dict[str, tuple[list[str], dict[str, str]]]:
        opts = UpOptions(
            fleet_file=tmp_path / "fleet.yaml",
            redis_url="redis://127.0.0.1:6379/0",
            cache_dir=tmp_path / "cache",
            environ={"PATH": "/usr/bin"},
            with_flower=with_flower,
        )
        return {s.name: (list(s.argv), dict(s.env)) for s in plan_processes(opts)}

    quiet, watched = plan(False), plan(True)
    for worker in ("fetch", "apply"):
        assert "-E" not in quiet[worker][0]
        assert "-E" in watched[worker][0]
    assert all("FLEETSYNC_TASK_EVENTS" not in env for _, env in quiet.values())
    assert watched["beat"][1]["FLEETSYNC_TASK_EVENTS"] == "1", "task-sent events for Flower"


def test_the_watcher_runs_unless_turned_off(tmp_path: Path) -> None:
    base = {
        "fleet_file": tmp_path / "f.yaml",
        "redis_url": "redis://127.0.0.1:6379/0",
        "cache_dir": tmp_path / "cache",
        "environ": ENVIRON,
    }
    on = {s.name: s for s in plan_processes(UpOptions(**base))}  # type: ignore[arg-type]
    assert list(on["watch"].argv)[-2:] == ["fleetsync", "watch"]
    off = {s.name for s in plan_processes(UpOptions(**base, with_watch=False))}  # type: ignore[arg-type]
    assert "watch" not in off and {"beat", "fetch", "apply"} <= off
