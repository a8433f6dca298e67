"""The two error roots of fleetsync.

A TransientError is retried by the task that meets it, with backoff and jitter (an unreachable
repository, a cluster answering 503). A PermanentError is not retried: it becomes the status of the
application or cluster it concerns (invalid YAML, an unknown ref, an object the server rejects).
Messages start with their subject and say what to do where that is known; they never carry a
credential.
"""

from __future__ import annotations


class FleetsyncError(Exception):
    """Root of every error fleetsync raises on purpose."""


class TransientError(FleetsyncError):
    """A failure that may pass: retry later. `delay` is a hint in seconds, if the cause gave one."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(FleetsyncError):
    """A failure that the same input will meet again: record it, do not retry."""
