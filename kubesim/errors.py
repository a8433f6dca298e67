"""API errors as the real server reports them: a `Status` object with a code and a reason.

Every failure inside kubesim is an `ApiError`; the HTTP layer turns it into a `Status` body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """The `reason` field of a failure `Status` (metav1.StatusReason)."""

    NONE = ""
    """No reason: an internal failure the server did not classify (a typed patch error)."""
    BAD_REQUEST = "BadRequest"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    GONE = "Gone"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    TOO_MANY_REQUESTS = "TooManyRequests"
    INTERNAL_ERROR = "InternalError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    NOT_ACCEPTABLE = "NotAcceptable"


@dataclass(frozen=True)
class Cause:
    """One cause of an Invalid or Conflict error (metav1.StatusCause)."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class ApiError(Exception):
    """A request failure, rendered as a `Status` object with `code`."""

    code: int
    reason: Reason
    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: Sequence[Cause] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    list_continue: str = ""
    """A continue token the failure hands back (an expired continuation's fresh one)."""

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        """The `Status` body the real API server sends for this failure."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.list_continue} if self.list_continue else {},
            "status": "Failure",
            "message": self.message,
            "reason": str(self.reason),
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details:
            body["details"] = details
        return body


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        404,
        Reason.NOT_FOUND,
        f'{qualified} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def no_such_path() -> ApiError:
    return ApiError(404, Reason.NOT_FOUND, "the server could not find the requested resource")


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        Reason.ALREADY_EXISTS,
        f'{qualified} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


def stale_resource_version(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        Reason.CONFLICT,
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        name=name,
        group=group,
        kind=resource,
    )


def invalid(kind: str, name: str, causes: Sequence[Cause], group: str = "") -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    # the message lists each distinct error once (the causes keep every one)
    parts = list(dict.fromkeys(f"{c.field}: {c.message}" if c.field else c.message for c in causes))
    detail = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        Reason.INVALID,
        f'{qualified} "{name}" is invalid: {detail}',
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


def continue_expired(fresh_token: str) -> ApiError:
    """A continue token from a compacted revision: 410, with a token to go on inconsistently."""
    return ApiError(410, Reason.EXPIRED, INCONSISTENT_CONTINUE, list_continue=fresh_token)


def bad_request(message: str) -> ApiError:
    return ApiError(400, Reason.BAD_REQUEST, message)


def forbidden(
    message: str, *, name: str = "", kind: str = "", group: str = "", causes: Sequence[Cause] = ()
) -> ApiError:
    return ApiError(
        403, Reason.FORBIDDEN, message, name=name, kind=kind, group=group, causes=causes
    )


def method_not_allowed(verb: str, resource: str) -> ApiError:
    return ApiError(
        405,
        Reason.METHOD_NOT_ALLOWED,
        f"{verb} is not supported on resources of kind {resource!r}",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml, application/strategic-merge-patch+json"
        f" (got {content_type!r})",
    )


def too_large(limit: int) -> ApiError:
    return ApiError(413, Reason.REQUEST_ENTITY_TOO_LARGE, f"limit is {limit}")
