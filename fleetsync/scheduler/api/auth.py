"""Who may call what: mutating endpoints need the API token, reads are open unless configured
otherwise. Safe by default: without a token, changes are refused unless explicitly allowed.

| FLEETSYNC_API_TOKEN | reads                                  | changes (sync, refresh)          |
| ------------------- | -------------------------------------- | -------------------------------- |
| set                 | open; bearer token when READ_TOKEN_... | bearer token                     |
| unset               | open; refused (403) when READ_TOKEN_...| refused (403) unless INSECURE=1  |

Webhooks are not covered here: they prove themselves with their provider's signature. The token
is compared in constant time and never logged, echoed or kept in a repr.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

TOKEN_ENV = "FLEETSYNC_API_TOKEN"
INSECURE_ENV = "FLEETSYNC_API_INSECURE"
READ_TOKEN_REQUIRED_ENV = "FLEETSYNC_API_READ_TOKEN_REQUIRED"

_TRUE = {"1", "true", "yes", "on"}


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    token: str | None = field(default=None, repr=False)
    insecure: bool = False
    """Allow changes without a token when none is configured (FLEETSYNC_API_INSECURE=1)."""
    read_token_required: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AccessPolicy:
        return cls(
            token=env.get(TOKEN_ENV) or None,
            insecure=env.get(INSECURE_ENV, "").strip().lower() in _TRUE,
            read_token_required=env.get(READ_TOKEN_REQUIRED_ENV, "").strip().lower() in _TRUE,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    message: str


def check_access(policy: AccessPolicy, access: Access, presented: str | None) -> Refusal | None:
    """None when a caller presenting bearer token `presented` (or None) may make a call of kind
    `access`; otherwise the refusal to send."""
    if access is Access.READ and not policy.read_token_required:
        return None
    if policy.token is None:
        if access is Access.WRITE and policy.insecure:
            return None
        what = "changes" if access is Access.WRITE else "reads"
        hint = (
            f" (or {INSECURE_ENV}=1 to allow unauthenticated changes)" if what == "changes" else ""
        )
        return Refusal(
            status.HTTP_403_FORBIDDEN,
            f"API {what} are disabled: no API token is configured; set {TOKEN_ENV}{hint}",
        )
    if presented is None:
        return Refusal(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
        )
    if not hmac.compare_digest(presented.encode("latin-1", "replace"), policy.token.encode()):
        return Refusal(status.HTTP_401_UNAUTHORIZED, "invalid bearer token")
    return None


_bearer = HTTPBearer(auto_error=False, description=f"The API token ({TOKEN_ENV}).")


def guard(policy: AccessPolicy, access: Access) -> Callable[..., None]:
    """A FastAPI dependency enforcing `check_access` for one kind of call."""

    def enforce(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        refusal = check_access(policy, access, credentials.credentials if credentials else None)
        if refusal is not None:
            challenge = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
            raise HTTPException(refusal.status, refusal.message, headers=challenge)

    return enforce
