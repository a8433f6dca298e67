"""The HTTP API and Git webhooks (`fleetsync api`): read fleet state from the store, trigger
manual syncs and repository refreshes, turn pushes into immediate polls, expose metrics.

Stateless: every request reads Redis and enqueues through the same `Sender` as beat and the CLI,
so any number of API processes can run side by side. Build one with `create_app`.
"""

from fleetsync.scheduler.api.app import create_app

__all__ = ["create_app"]
