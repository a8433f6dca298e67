"""Is this webhook delivery really from the Git server? Secrets per provider and the checks that
each provider's signature scheme calls for, as a table; pure functions over headers and raw body.

Secrets come from the environment (`FLEETSYNC_WEBHOOK_SECRET_<PROVIDER>`, else the shared
`FLEETSYNC_WEBHOOK_SECRET`); a provider without one accepts nothing. Every comparison is constant
time, and no secret or signature is ever part of a message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

SHARED_SECRET_ENV = "FLEETSYNC_WEBHOOK_SECRET"


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    BITBUCKET = "bitbucket"
    GENERIC = "generic"

    @property
    def secret_env(self) -> str:
        return f"{SHARED_SECRET_ENV}_{self.value.upper()}"


class Check(StrEnum):
    HMAC_SHA256 = "HMAC-SHA256 of the body"
    TOKEN = "shared token"


@dataclass(frozen=True, slots=True)
class Scheme:
    header: str
    check: Check
    prefix: str = ""
    """What precedes the hex digest in the header (`sha256=`), if anything."""


SCHEMES: Mapping[Provider, Scheme] = {
    Provider.GITHUB: Scheme("X-Hub-Signature-256", Check.HMAC_SHA256, "sha256="),
    Provider.GITLAB: Scheme("X-Gitlab-Token", Check.TOKEN),
    Provider.GITEA: Scheme("X-Gitea-Signature", Check.HMAC_SHA256),
    Provider.BITBUCKET: Scheme("X-Hub-Signature", Check.HMAC_SHA256, "sha256="),
    Provider.GENERIC: Scheme("X-Fleetsync-Signature", Check.HMAC_SHA256, "sha256="),
}


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    by_provider: Mapping[Provider, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSecrets:
        shared = env.get(SHARED_SECRET_ENV, "")
        found = {p: env.get(p.secret_env, "") or shared for p in Provider}
        return cls({p: s for p, s in found.items() if s})

    def secret_for(self, provider: Provider) -> str | None:
        return self.by_provider.get(provider) or None


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `body` keyed by `secret` (what GitHub, Gitea, Bitbucket and generic
    senders send)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_delivery(
    provider: Provider, secret: str, headers: Mapping[str, str], body: bytes
) -> str | None:
    """None when the delivery carries `provider`'s proof of `secret` over `body`; otherwise why
    not (a message safe to return to the sender: it never contains a secret)."""
    scheme = SCHEMES[provider]
    presented = header_value(headers, scheme.header)
    if presented is None:
        return f"missing {scheme.header} header"
    if scheme.check is Check.TOKEN:
        expected = secret
    else:
        if not presented.startswith(scheme.prefix):
            return f"{scheme.header}: expected '{scheme.prefix}<hex digest>'"
        presented = presented[len(scheme.prefix) :].lower()
        expected = sign(secret, body)
    if not hmac.compare_digest(_header_bytes(presented), expected.encode()):
        return f"{scheme.header}: {scheme.check} does not match the configured secret"
    return None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (plain dicts in tests, Starlette's Headers in the app)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _header_bytes(value: str) -> bytes:
    """The bytes the sender sent: HTTP servers decode header values as latin-1."""
    return value.encode("latin-1", "replace")
