"""The API served for real: uvicorn on a free port in a thread, the test's Redis behind it, a
Celery app without workers (tasks stay in the broker's lists, where tests read them)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from fleetsync.scheduler.api import create_app
from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.api.metrics import QueueDepths
from fleetsync.scheduler.api.webhook_verify import Provider, WebhookSecrets
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    Repository,
    Selector,
    Targets,
)
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

TOKEN = "s3cret-api-token"
WEBHOOK_SECRET = "webhook-secret"
PINNED_SHA = "0123456789abcdef0123456789abcdef01234567"


def example_fleet() -> Fleet:
    """platform (main) holds guestbook (on the prod clusters c1, c2) and api (on c3); pinned is
    held at a commit sha."""
    repos = [
        Repository(RepoName("platform"), "https://git.example.com/org/platform.git", "main"),
        Repository(RepoName("pinned"), "git@git.example.com:org/pinned.git", PINNED_SHA),
    ]
    clusters = [
        Cluster(ClusterName("c1"), "/k/c1", labels={"env": "prod"}),
        Cluster(ClusterName("c2"), "/k/c2", labels={"env": "prod"}),
        Cluster(ClusterName("c3"), "/k/c3", labels={"env": "dev"}),
    ]
    apps = [
        Application(
            AppName("guestbook"),
            RepoName("platform"),
            "apps/guestbook",
            targets=Targets(selector=Selector(match_labels={"env": "prod"})),
        ),
        Application(
            AppName("api"),
            RepoName("platform"),
            "apps/api",
            targets=Targets(clusters=(ClusterName("c3"),)),
        ),
    ]
    return Fleet(
        repositories={r.name: r for r in repos},
        clusters={c.name: c for c in clusters},
        applications={a.name: a for a in apps},
    )


def publish(store: Store, fleet: Fleet) -> None:
    digest = hashlib.sha256(json.dumps(fleet.to_json(), sort_keys=True).encode()).hexdigest()
    store.publish_fleet(fleet, digest)


@dataclass
class RunningApi:
    url: str
    store: Store
    http: httpx.Client

    def queued(self, queue: str) -> list[tuple[str, dict[str, Any], int]]:
        """(task name, kwargs, priority) of every message waiting in `queue`, oldest first.

        The Redis transport keeps one list per priority step: `poll` for 0, `poll:6` for 6."""
        found = []
        for priority in range(10):
            name = queue if priority == 0 else f"{queue}:{priority}"
            for raw in reversed(self.store.client.lrange(name, 0, -1)):
                message = json.loads(raw)
                _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
                found.append((message["headers"]["task"], kwargs, priority))
        return found


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"api:{port}", daemon=True)
    thread.start()
    wait_for(
        lambda: server.started or not thread.is_alive(),
        timeout=10,
        interval=0.01,
        what=f"uvicorn starting on port {port}",
    )
    if not server.started:
        raise RuntimeError(f"uvicorn did not start on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


StartApi = Callable[..., RunningApi]


@pytest.fixture
def start_api(redis_url: str) -> Iterator[StartApi]:
    """Start the API over the test's Redis; keyword arguments go to `create_app`. By default
    the token is TOKEN, every provider's secret is WEBHOOK_SECRET and the example fleet is
    published."""
    with ExitStack() as stack:

        def start(
            *,
            access: AccessPolicy | None = None,
            webhook_secrets: WebhookSecrets | None = None,
            queue_depths: QueueDepths | None = None,
            fleet: Fleet | None = None,
            published: bool = True,
        ) -> RunningApi:
            store = Store.connect(redis_url)
            stack.callback(store.client.close)
            if published:
                publish(store, fleet or example_fleet())
            celery = make_celery(Settings(redis_url=redis_url))
            stack.callback(celery.close)
            app = create_app(
                store,
                Sender(celery, store),
                access=access or AccessPolicy(token=TOKEN),
                webhook_secrets=webhook_secrets
                or WebhookSecrets({p: WEBHOOK_SECRET for p in Provider}),
                queue_depths=queue_depths,
            )
            url = stack.enter_context(serving(app))
            http = stack.enter_context(httpx.Client(base_url=url, timeout=10))
            return RunningApi(url=url, store=store, http=http)

        yield start


@pytest.fixture
def api(start_api: StartApi) -> RunningApi:
    return start_api()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
