"""The two error roots of fleetsync.

A TransientError is retried by the task that meets it, with backoff and jitter (an unreachable
repository, a cluster answering 503). A PermanentError is not retried: it becomes the status of the
application or cluster it concerns (invalid YAML, an unknown ref, an object the server rejects).
Any other exception is a failure fleetsync did not foresee: it too becomes status (named by its
class, see `describe`) and is retried like a transient one.
Messages start with their subject and say what to do where that is known; they never carry a
credential.

A `ClusterFailure` is the whole cluster's failure, not one application's: the cluster cannot be
reached or refuses fleetsync's credentials, so every application on it would meet it too (a
batch of one cluster's applications stops asking the cluster at the first one). It is a marker
mixed into a transient or permanent error, decided where the error is raised, never read from
a message.
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


class ClusterFailure(FleetsyncError):
    """Marks an error as the whole cluster's (unreachable, overloaded, credentials or kubeconfig
    refused), mixed into a `TransientError` or `PermanentError` subclass: any application on the
    cluster would meet it. An error without it concerns the request or object at hand."""


def describe(exc: BaseException) -> str:
    """An error as status shows it: a fleetsync error's own message (it names its subject),
    anything else as its class and the first line of its message (`ScannerError: while scanning
    a simple key`), so no failure shows as an empty message. Only the first line, cut at 300
    characters: the lines after it may quote the input (a YAML error quotes the line it failed
    on, which may hold a credential)."""
    if isinstance(exc, FleetsyncError):
        return str(exc)
    first = str(exc).strip().partition("\n")[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
