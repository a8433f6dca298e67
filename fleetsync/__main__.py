"""`python -m fleetsync` is the `fleetsync` command."""

from fleetsync.scheduler.cli import main

main()
