"""What `fleetsync up` gives each child: the Git credentials only to the fetch worker, the API's
secrets only to the API, Flower's only to Flower; fleetsync's own settings to all."""

from __future__ import annotations

from pathlib import Path

from fleetsync.scheduler.cli.up import UpOptions, credential_variables, plan_processes
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
    )
    secrets = {k for k in ENVIRON if k not in ("PATH", "HOME")}
    expected = {
        "beat": set(),
        "apply": set(),
        "watch": set(),
        "fetch": names,
        "api": {"FLEETSYNC_API_TOKEN", "FLEETSYNC_WEBHOOK_SECRET_GITHUB"},
        "flower": {"FLOWER_BASIC_AUTH"},
    }
    specs = {spec.name: spec for spec in plan_processes(opts)}
    assert set(specs) == set(expected)
    for name, spec in specs.items():
        assert secrets & set(spec.env) == expected[name], name
        assert spec.env["PATH"] == "/usr/bin", name
        assert spec.env["FLEETSYNC_REDIS_URL"] == "redis://127.0.0.1:6379/0", name


def test_the_watcher_runs_unless_turned_off(tmp_path: Path) -> None:
    base = {"fleet_file": tmp_path / "f.yaml", "redis_url": "redis://127.0.0.1:6379/0",
            "cache_dir": tmp_path / "cache", "environ": ENVIRON}
    on = {s.name: s for s in plan_processes(UpOptions(**base))}  # type: ignore[arg-type]
    assert list(on["watch"].argv)[-2:] == ["fleetsync", "watch"]
    off = {s.name for s in plan_processes(UpOptions(**base, with_watch=False))}  # type: ignore[arg-type]
    assert "watch" not in off and {"beat", "fetch", "apply"} <= off
