"""What checking fleet.yaml yields: each problem by file, line and key path, the error that
carries them all, and the report of a check (the fleet, errors and warnings)."""

from __future__ import annotations

from dataclasses import dataclass

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.declaration import Fleet


@dataclass(frozen=True, slots=True)
class FleetIssue:
    """One problem (or warning) in a fleet file: `fleet.yaml:12: clusters[0].name: message`."""

    source: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return ": ".join(part for part in (where, self.key_path, self.message) if part)


class FleetError(PermanentError):
    """A fleet declaration that cannot be used; `issues` holds every problem, in line order."""

    def __init__(self, issues: tuple[FleetIssue, ...]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues

    def __reduce__(self) -> tuple[type[FleetError], tuple[tuple[FleetIssue, ...]]]:
        return type(self), (self.issues,)


class FleetFileError(FleetError):
    """The fleet file itself cannot be read: missing, a directory, or not permitted."""


@dataclass(frozen=True, slots=True)
class FleetReport:
    """The outcome of checking a fleet file: the fleet when there is no error, and warnings."""

    fleet: Fleet | None
    errors: tuple[FleetIssue, ...] = ()
    warnings: tuple[FleetIssue, ...] = ()
