"""The workers' Celery app: `celery -A fleetsync.workers.app worker -Q poll,fetch` (source side)
or `-Q apply -P threads -c 32` (apply side), `-Q notify -P threads -c 4` (notifications out)."""

from __future__ import annotations

from fleetsync.shared.open_files import raise_open_files_limit
from fleetsync.shared.settings import load_settings
from fleetsync.shared.tasking import make_celery
from fleetsync.workers import runtime

raise_open_files_limit()
app = make_celery(load_settings(), main="fleetsync.workers")
runtime.bind_app(app)
app.conf.include = [
    "fleetsync.workers.fetch",
    "fleetsync.workers.apply",
    "fleetsync.workers.notify",
]
