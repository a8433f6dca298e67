"""Every process outlives a Redis outage: the beat stands by and resumes, a task that met an
unreachable Redis runs again, the API answers 503 with the reason and then serves again, and
the CLI says which Redis it cannot reach, without a traceback or a password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from celery.signals import task_postrun

from fleetsync.scheduler.api import create_app
from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.api.webhook_verify import WebhookSecrets
from fleetsync.shared.model.declaration import Fleet, Repository
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, TaskName, make_celery
from fleetsync.workers.app import app as worker_app
from tests.integration.api.conftest import example_fleet, publish, serving
from tests.support.celery_worker import configure_workers, point_broker_at, running_worker
from tests.support.processes import beat_argv, fleetsync_env, running
from tests.support.redis_server import RedisServer, free_port
from tests.support.waiting import wait_for


@pytest.fixture
def redis(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path / "redis", persist=True)
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def test_the_beat_stands_by_while_redis_restarts_and_resumes(
    redis: RedisServer, tmp_path: Path
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text("repositories: []\nclusters: []\napplications: []\n")
    env = fleetsync_env(redis.url, FLEETSYNC_FLEET=str(fleet_file), FLEETSYNC_TICK_SECONDS="0.2")
    store = Store.connect(redis.url)
    with running(beat_argv(str(tmp_path / "schedule")), env) as beat:
        wait_for(lambda: store.client.get("fleetsync:lease:beat"), what="the beat's lease")
        redis.stop()
        beat.wait_line("cannot reach Redis at redis://127.0.0.1:.*standing by")
        redis.start()
        beat.wait_line("answers again after .*; resuming")
        store.client.delete("fleetsync:lease:beat")
        wait_for(
            lambda: store.client.get("fleetsync:lease:beat"),
            what="the beat ticking again (its lease taken back)",
        )
        assert beat.alive(), beat.output()
        assert "Traceback" not in beat.output()


def test_a_task_that_met_an_unreachable_redis_runs_again(tmp_path: Path) -> None:
    """The store's Redis is away while the broker's is up: the task hands its message back
    instead of being acked away as a failure, and runs once the store's Redis is back."""
    broker = RedisServer(tmp_path / "broker")
    state = RedisServer(tmp_path / "state", persist=True)
    finished: list[str] = []

    def on_postrun(task_id: str, **_: object) -> None:
        finished.append(task_id)

    task_postrun.connect(on_postrun, weak=False)
    broker.start()
    state.start()
    try:
        nowhere = f"git://127.0.0.1:{free_port()}/platform.git"
        repo = Repository(RepoName("platform"), nowhere, "main")
        publish(Store.connect(state.url), Fleet(repositories={repo.name: repo}))
        state.stop()
        configure_workers(state.url, tmp_path / "cache")
        point_broker_at(broker.url)
        with running_worker(("poll",), concurrency=1):
            worker_app.send_task(
                TaskName.POLL.value, kwargs={"repo": "platform"}, queue="poll", priority=0
            )
            wait_for(lambda: finished, what="the poll run once, against the unreachable Redis")
            state.start()
            store = Store.connect(state.url)
            error = wait_for(
                lambda: store.repo_state(RepoName("platform")).error,
                timeout=60,
                what="the poll run again once the store's Redis is back",
            )
            assert "platform" in error
    finally:
        task_postrun.disconnect(on_postrun)
        point_broker_at(Settings().redis_url)  # the next test configures its own
        state.stop()
        broker.stop()


def test_the_api_answers_503_with_the_reason_while_redis_is_away(redis: RedisServer) -> None:
    store = Store.connect(redis.url)
    publish(store, example_fleet())
    app = create_app(
        store,
        Sender(make_celery(Settings(redis_url=redis.url)), store),
        access=AccessPolicy(),
        webhook_secrets=WebhookSecrets(),
    )
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/api/v1/applications").status_code == 200
        redis.stop()
        away = http.get("/api/v1/applications")
        assert away.status_code == 503
        assert away.headers["retry-after"] == "5"
        detail = away.json()["detail"]
        assert detail.startswith(f"cannot reach Redis at {redis.url}: ConnectionError")
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "cannot reach Redis" in ready.json()["reason"]
        redis.start()
        assert http.get("/api/v1/applications").status_code == 200
        assert http.get("/readyz").status_code == 200


def fleetsync(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetsync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_cli_names_the_redis_it_cannot_reach_without_password_or_traceback() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    done = fleetsync("status", "--redis-url", url)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"Error: cannot reach Redis at {url.replace(':hunter2@', '')}: ConnectionError"
    ), done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_the_cli_says_so_when_redis_goes_away_in_the_middle_of_a_command(
    redis: RedisServer,
) -> None:
    store = Store.connect(redis.url)
    publish(store, example_fleet())
    with running(
        [sys.executable, "-m", "fleetsync", "sync", "guestbook", "--wait", "--timeout", "120"],
        fleetsync_env(redis.url),
    ) as cli:
        wait_for(
            lambda: store.client.exists(
                "fleetsync:queued:apply:fleetsync.apply.reconcile:guestbook:c1"
            ),
            what="the sync queued",
        )
        redis.stop()
        assert cli.popen.wait(timeout=60) == 1
        out = cli.output()
        assert f"Error: cannot reach Redis at {redis.url}: " in out, out
        assert "Traceback" not in out


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("htp://127.0.0.1:6379/0", "is not a Redis URL: it must start with redis://"),
        ("redis://127.0.0.1:99999/0", "Port out of range"),
        ("redis://127.0.0.1:6379/abc", "database 'abc' must be a number from 0 to 15"),
        ("sentinel://127.0.0.1:26379/0", "name the monitored master"),
        ("redis://:s3cret@127.0.0.1:6379/x", "'redis://127.0.0.1:6379/x': database 'x'"),
        (
            "redis://127.0.0.1:6379/0?password=s3cret",
            "the password goes before the host, not in the query (redis://:PASSWORD@...)",
        ),
        ("unix:///?db=0", "'unix:///?db=0': no socket (write unix:///PATH/TO/redis.sock?db=N)"),
        ("unix://:s3cret@/run/redis.sock?db=20", "'unix:///run/redis.sock?db=20': database '20'"),
    ],
)
def test_a_bad_redis_url_is_a_usage_error_not_a_traceback(url: str, problem: str) -> None:
    done = fleetsync("status", "--redis-url", url)
    assert done.returncode == 2
    assert problem in done.stderr and "Invalid value for '--redis-url'" in done.stderr
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
