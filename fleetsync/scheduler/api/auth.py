"""Who may call what: mutating endpoints need the API token, reads are open unless configured
otherwise. Safe by default: without a token, changes are refused unless explicitly allowed.

| FLEETSYNC_API_TOKEN | reads                                  | changes (sync, refresh, ...)     |
| ------------------- | -------------------------------------- | -------------------------------- |
| set                 | open; bearer token when READ_TOKEN_... | bearer token (401 without, 403   |
|                     |                                        | with the read-only token)        |
| unset               | open; refused (403) when READ_TOKEN_...| refused (403) unless INSECURE=1  |

FLEETSYNC_API_READ_TOKEN, when set, is a second token that may read and nothing else. A token
that is a placeholder (`REPLACE_ME`, `changeme`...) or shorter than 16 characters is refused when
the policy is built (`TokenError`), so a copied example never guards a real API.

Webhooks are not covered here: they prove themselves with their provider's signature. Tokens
are compared in constant time and never logged, echoed or kept in a repr.
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
READ_TOKEN_ENV = "FLEETSYNC_API_READ_TOKEN"
MIN_TOKEN_CHARS = 16
PLACEHOLDERS = frozenset(
    {"replaceme", "changeme", "changeit", "secret", "password", "token", "example", "todo"}
)
INSECURE_ENV = "FLEETSYNC_API_INSECURE"
READ_TOKEN_REQUIRED_ENV = "FLEETSYNC_API_READ_TOKEN_REQUIRED"

_TRUE = {"1", "true", "yes", "on"}


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class TokenError(ValueError):
    """A configured token that must not guard an API (a placeholder, or too short)."""


def token_problem(name: str, token: str) -> str | None:
    """Why the token in variable `name` is refused, or None (the message never shows it)."""
    squashed = "".join(ch for ch in token.lower() if ch.isalnum())
    if squashed in PLACEHOLDERS or token.strip("<>x*. ") == "" or len(set(token)) == 1:
        return f"{name} is a placeholder; set it to a random secret (e.g. `openssl rand -hex 32`)"
    if len(token) < MIN_TOKEN_CHARS:
        return (
            f"{name} is shorter than {MIN_TOKEN_CHARS} characters; set it to a random secret "
            "(e.g. `openssl rand -hex 32`)"
        )
    return None


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    token: str | None = field(default=None, repr=False)
    insecure: bool = False
    """Allow changes without a token when none is configured (FLEETSYNC_API_INSECURE=1)."""
    read_token_required: bool = False
    read_token: str | None = field(default=None, repr=False)
    """A token for reads only (FLEETSYNC_API_READ_TOKEN); changes with it are refused (403)."""

    def __post_init__(self) -> None:
        for name, value in ((TOKEN_ENV, self.token), (READ_TOKEN_ENV, self.read_token)):
            if value is not None and (problem := token_problem(name, value)):
                raise TokenError(problem)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AccessPolicy:
        """The policy the environment configures; TokenError for a token that is refused."""
        return cls(
            token=env.get(TOKEN_ENV) or None,
            insecure=env.get(INSECURE_ENV, "").strip().lower() in _TRUE,
            read_token_required=env.get(READ_TOKEN_REQUIRED_ENV, "").strip().lower() in _TRUE,
            read_token=env.get(READ_TOKEN_ENV) or None,
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
    if access is Access.WRITE and policy.token is None:
        if policy.insecure:
            return None
        return Refusal(
            status.HTTP_403_FORBIDDEN,
            f"API changes are disabled: no API token is configured; set {TOKEN_ENV} "
            f"(or {INSECURE_ENV}=1 to allow unauthenticated changes)",
        )
    if policy.token is None and policy.read_token is None:
        return Refusal(
            status.HTTP_403_FORBIDDEN,
            f"API reads are disabled: no API token is configured; set {TOKEN_ENV}",
        )
    if presented is None:
        return Refusal(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
        )
    given = presented.encode("latin-1", "replace")
    if _same(given, policy.token):
        return None
    if _same(given, policy.read_token):
        if access is Access.READ:
            return None
        return Refusal(
            status.HTTP_403_FORBIDDEN,
            f"this token may only read ({READ_TOKEN_ENV}); changes need {TOKEN_ENV}",
        )
    return Refusal(status.HTTP_401_UNAUTHORIZED, "invalid bearer token")


def _same(given: bytes, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(given, token.encode())


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
