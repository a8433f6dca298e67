"""What every fleetsync process shares: the domain model and the adapters to the outside world.

Nothing here imports `fleetsync.scheduler` or `fleetsync.workers` (checked by import-linter).
"""
