"""fleet.yaml's `notifications`: each entry read into a `Notification`, every problem named by
its line and key (the walk is document.py's; this module holds the section's own rules).

```yaml
notifications:
  - name: ops
    kind: webhook                 # webhook (default) | slack
    url_env: OPS_HOOK_URL         # or url: https://..., never both
    secret_env: OPS_HOOK_SECRET   # webhook only: the body is signed with HMAC-SHA256
    events: [sync-failed, degraded, drift, rollout-paused, rollout-finished, source-error]
    applications: [web]           # optional: only these applications
    clusters: [prod-eu-1]         # optional: only these clusters
    maxPerMinute: 30              # optional
```

A URL is a reference or a plain address: one that carries a password is refused, a Slack URL
(its path is its secret) must come through `url_env`, and no message echoes a URL's secret part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import SplitResult

from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.notification import (
    DEFAULT_PER_MINUTE,
    MAX_PER_MINUTE,
    EventKind,
    Notification,
    NotifierKind,
)
from fleetsync.shared.urls import display_url

KEYS = (
    "name",
    "kind",
    "url",
    "url_env",
    "secret_env",
    "events",
    "applications",
    "clusters",
    "maxPerMinute",
)
REQUIRED = ("name", "events")


class Reader(Protocol):
    """What this section needs of the walk over the YAML tree (`FleetReader`, document.py)."""

    def error(self, at: Any, message: str) -> None: ...
    def url_parts(self, at: Any, text: str) -> SplitResult | None: ...
    def string(self, at: Any, *, required: bool = True) -> str | None: ...
    def choice(self, at: Any, allowed: Sequence[str]) -> str | None: ...
    def sequence(self, at: Any) -> list[Any]: ...
    def env_name(self, at: Any) -> str | None: ...
    def count(self, at: Any, *, minimum: int) -> int | None: ...
    def cluster_names(self, at: Any) -> list[ClusterName]: ...
    def declared(self, section: str) -> list[str]: ...
    @property
    def item(self) -> Any: ...


def read_notification(reader: Reader, name: str | None, f: dict[str, Any]) -> Notification | None:
    """One entry of `notifications` (its name already checked by the section's walk)."""
    kinds = [k.value for k in NotifierKind]
    kind = NotifierKind(reader.choice(f["kind"], kinds) or "webhook") if "kind" in f else None
    kind = kind or NotifierKind.WEBHOOK
    url = _url(reader, f["url"], kind) if "url" in f else None
    url_env = reader.env_name(f["url_env"]) if "url_env" in f else None
    if "url" in f and "url_env" in f:
        reader.error(f["url"], "give either url or url_env, not both")
    elif "url" not in f and "url_env" not in f:
        reader.error(reader.item, "missing 'url_env' (or 'url'): where to send the messages")
    secret_env = None
    if "secret_env" in f:
        secret_env = reader.env_name(f["secret_env"])
        if kind is not NotifierKind.WEBHOOK:
            reader.error(
                f["secret_env"], "applies only to kind webhook (a Slack URL is its own secret)"
            )
    events = _events(reader, f["events"]) if "events" in f else ()
    apps = _applications(reader, f["applications"]) if "applications" in f else ()
    clusters = tuple(reader.cluster_names(f["clusters"])) if "clusters" in f else ()
    per_minute = DEFAULT_PER_MINUTE
    if "maxPerMinute" in f:
        per_minute = reader.count(f["maxPerMinute"], minimum=1) or DEFAULT_PER_MINUTE
        if per_minute > MAX_PER_MINUTE:
            reader.error(f["maxPerMinute"], f"must be at most {MAX_PER_MINUTE}")
    if name is None or not events or (url is None and url_env is None):
        return None
    return Notification(
        name=name,
        kind=kind,
        events=events,
        url=url,
        url_env=url_env,
        secret_env=secret_env,
        applications=apps,
        clusters=clusters,
        per_minute=per_minute,
    )


def _url(reader: Reader, at: Any, kind: NotifierKind) -> str | None:
    text = reader.string(at)
    if text is None:
        return None
    text = text.strip()
    parts = reader.url_parts(at, text)
    if parts is None:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.error(at, f"'{display_url(text, path=False)}' is not an http or https URL")
    elif parts.password is not None:
        reader.error(at, "must not carry a password; put the URL in a variable named by url_env")
    elif kind is NotifierKind.SLACK:
        reader.error(
            at,
            "a Slack webhook URL holds its secret in its path: put it in an environment "
            "variable and name the variable in url_env",
        )
    else:
        return text
    return None


def _events(reader: Reader, at: Any) -> tuple[EventKind, ...]:
    allowed = [k.value for k in EventKind]
    found: list[EventKind] = []
    items = reader.sequence(at)
    if not items:
        reader.error(at, f"name at least one event: {', '.join(allowed)}")
    for item in items:
        word = reader.choice(item, allowed)
        if word is not None and EventKind(word) not in found:
            found.append(EventKind(word))
    return tuple(found)


def _applications(reader: Reader, at: Any) -> tuple[AppName, ...]:
    found: list[AppName] = []
    declared = reader.declared("applications")
    for item in reader.sequence(at):
        app = reader.string(item)
        if app is None:
            continue
        if app not in declared:
            listed = ", ".join(declared) if declared else "none"
            reader.error(
                item, f"application '{app}' is not declared; declared applications: {listed}"
            )
        elif app not in found:
            found.append(AppName(app))
    return tuple(found)
