"""What a verified webhook delivery asks for: which event it is, which repository and refs were
pushed, and which declared repositories that means. Pure functions over headers, the body and
the fleet declaration; each provider's differences are rows in the tables below.

Bodies come as providers send them by default: JSON, or (GitHub's default, Gitea's option) a
form-encoded body whose `payload` field holds the JSON. Bitbucket Cloud names the pushed refs in
`push.changes[].new` (or `.old` for a deleted branch) rather than in one `ref`.

A declared repository matches a push when its URL key (see `repo_urls`) is one of the pushed
repository's URL keys and its ref names the pushed branch or tag. A repository pinned to a commit
sha never matches: a push cannot move it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from fleetsync.scheduler.api.repo_urls import repo_url_key
from fleetsync.scheduler.api.webhook_verify import Provider, header_value
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import RepoName


class EventKind(StrEnum):
    PUSH = "push"
    PING = "ping"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class EventRule:
    header: str | None
    """The header naming the event; None when every delivery is a push (generic)."""
    push: frozenset[str] = frozenset()
    ping: frozenset[str] = frozenset()
    delivery_header: str = ""


EVENT_RULES: Mapping[Provider, EventRule] = {
    Provider.GITHUB: EventRule(
        "X-GitHub-Event", frozenset({"push"}), frozenset({"ping"}), "X-GitHub-Delivery"
    ),
    Provider.GITLAB: EventRule(
        "X-Gitlab-Event",
        frozenset({"Push Hook", "Tag Push Hook"}),
        delivery_header="X-Gitlab-Event-UUID",
    ),
    Provider.GITEA: EventRule(
        "X-Gitea-Event", frozenset({"push"}), delivery_header="X-Gitea-Delivery"
    ),
    Provider.BITBUCKET: EventRule(
        "X-Event-Key",
        frozenset({"repo:push"}),
        frozenset({"diagnostics:ping"}),
        "X-Request-UUID",
    ),
    Provider.GENERIC: EventRule(None, delivery_header="X-Fleetsync-Delivery"),
}

URL_FIELDS: Mapping[Provider, tuple[tuple[str, tuple[str, ...]], ...]] = {
    Provider.GITHUB: (
        ("repository", ("clone_url", "ssh_url", "git_url", "html_url", "svn_url", "url")),
    ),
    Provider.GITLAB: (
        ("project", ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url")),
        ("repository", ("git_http_url", "git_ssh_url", "url", "homepage")),
    ),
    Provider.GITEA: (("repository", ("clone_url", "ssh_url", "html_url")),),
}

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES: Mapping[Provider, tuple[str, ...]] = {
    Provider.GITHUB: (JSON, FORM),
    Provider.GITLAB: (JSON,),
    Provider.GITEA: (JSON, FORM),
    Provider.BITBUCKET: (JSON,),
    Provider.GENERIC: (JSON,),
}
"""The body formats each provider can send; a delivery without a Content-Type is read as JSON."""
MAX_REFS = 100
"""Where each provider's push payload names the repository: (object, its URL fields)."""

_COMMIT_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


class PayloadError(ValueError):
    """The delivery is well signed but does not say what was pushed."""


class ContentTypeError(ValueError):
    """A body format the provider's receiver does not read; the message says which to choose."""


def decode_body(provider: Provider, content_type: str | None, body: bytes) -> Any:
    """The delivery's payload: JSON, or the JSON in a form-encoded body's `payload` field."""
    media = (content_type or JSON).split(";", 1)[0].strip().lower()
    accepted = CONTENT_TYPES[provider]
    if media not in accepted:
        choose = " or ".join(accepted)
        raise ContentTypeError(
            f"content type {media!r}: {provider} webhooks are read as {choose}; choose "
            f"{accepted[0]!r} as the webhook's content type in {provider}'s settings"
        )
    text = body.decode("utf-8")
    if media == FORM:
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
        payload = fields.get("payload")
        if not payload:
            raise PayloadError("form-encoded body without a 'payload' field")
        text = payload[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"malformed JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Push:
    url_keys: frozenset[str]
    ref: str | None
    """`refs/heads/main`, `refs/tags/v1`, a short name, or None (generic: any ref)."""
    names: frozenset[str] = frozenset()
    """Declared repository names given instead of a URL (generic webhooks)."""
    more_refs: tuple[str, ...] = ()
    """Further refs the same push moved (Bitbucket pushes several at once)."""

    @property
    def refs(self) -> tuple[str | None, ...]:
        return (self.ref, *self.more_refs)


def classify_event(provider: Provider, headers: Mapping[str, str]) -> tuple[EventKind, str]:
    """The delivery's kind and its event name as the provider spells it."""
    rule = EVENT_RULES[provider]
    if rule.header is None:
        return EventKind.PUSH, "push"
    event = header_value(headers, rule.header)
    if event is None:
        raise PayloadError(f"missing {rule.header} header")
    if event in rule.push:
        return EventKind.PUSH, event
    if event in rule.ping:
        return EventKind.PING, event
    return EventKind.IGNORED, event


def delivery_id(provider: Provider, headers: Mapping[str, str]) -> str:
    return header_value(headers, EVENT_RULES[provider].delivery_header) or "-"


def parse_push(provider: Provider, payload: Any) -> Push:
    """The pushed repository and ref from a provider's push payload."""
    if not isinstance(payload, dict):
        raise PayloadError("payload: expected a JSON object")
    if provider is Provider.GENERIC:
        return _generic_push(payload)
    if provider is Provider.BITBUCKET:
        return _bitbucket_push(payload)
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref:
        raise PayloadError("payload: 'ref' is missing or not a string")
    urls = [
        url
        for obj, fields in URL_FIELDS[provider]
        if isinstance(section := payload.get(obj), dict)
        for name in fields
        if isinstance(url := section.get(name), str) and url
    ]
    if not urls:
        objects = " or ".join(obj for obj, _ in URL_FIELDS[provider])
        raise PayloadError(f"payload: no repository URL in {objects!r}")
    return Push(url_keys=frozenset(repo_url_key(u) for u in urls), ref=ref)


def _generic_push(payload: Mapping[str, Any]) -> Push:
    repository = payload.get("repository")
    if not isinstance(repository, str) or not repository.strip():
        raise PayloadError("payload: 'repository' must be a repository URL or declared name")
    ref = payload.get("ref")
    if ref is not None and (not isinstance(ref, str) or not ref):
        raise PayloadError("payload: 'ref' must be a non-empty string when given")
    return Push(
        url_keys=frozenset({repo_url_key(repository)}), ref=ref, names=frozenset({repository})
    )


def _bitbucket_push(payload: Mapping[str, Any]) -> Push:
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        raise PayloadError("payload: no 'repository' object")
    urls = []
    html = ((repository.get("links") or {}).get("html") or {}).get("href")
    if isinstance(html, str) and html:
        urls.append(html)
    full_name = repository.get("full_name")
    if isinstance(full_name, str) and full_name:
        urls.append(f"https://bitbucket.org/{full_name}")
    if not urls:
        raise PayloadError("payload: no repository URL in 'repository.links.html' or 'full_name'")
    changes = (payload.get("push") or {}).get("changes")
    if not isinstance(changes, list) or not changes:
        raise PayloadError("payload: no 'push.changes'")
    refs = []
    for change in changes[:MAX_REFS]:
        moved = (change or {}).get("new") or (change or {}).get("old") or {}
        kind, name = moved.get("type"), moved.get("name")
        if isinstance(name, str) and name and kind in ("branch", "named_branch", "tag"):
            refs.append(f"refs/tags/{name}" if kind == "tag" else f"refs/heads/{name}")
    if not refs:
        raise PayloadError("payload: 'push.changes' names no branch or tag")
    return Push(
        url_keys=frozenset(repo_url_key(u) for u in urls), ref=refs[0], more_refs=tuple(refs[1:])
    )


def ref_matches(declared: str, pushed: str | None) -> bool:
    """Does a push to `pushed` move the declared ref? Never for a commit sha; a declared `HEAD`
    follows any branch (polling it is cheap, missing its default branch's push is not)."""
    if _COMMIT_SHA.fullmatch(declared.lower()):
        return False
    if pushed is None:
        return True
    if declared == "HEAD":
        return pushed.startswith("refs/heads/") or not pushed.startswith("refs/")
    return bool(_ref_names(declared) & _ref_names(pushed))


def _ref_names(ref: str) -> set[str]:
    if ref.startswith("refs/"):
        return {ref}
    return {ref, f"refs/heads/{ref}", f"refs/tags/{ref}"}


def match_repositories(fleet: Fleet, push: Push) -> list[RepoName]:
    """The declared repositories the push moves, sorted by name."""
    return [
        name
        for name, repo in sorted(fleet.repositories.items())
        if (name in push.names or repo_url_key(repo.url) in push.url_keys)
        and any(ref_matches(repo.ref, ref) for ref in push.refs)
    ]
