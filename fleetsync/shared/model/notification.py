"""Notifications out: what fleet.yaml's `notifications` declare, the events fleetsync tells them
about, and the pure rules that turn what the store holds into conditions.

A condition is a subject's state as a notification sees it: a pair's sync failed or not, its
health Degraded or not, its objects drifted or not; an application's source broken or not, its
rollout paused or not, finished or not. The beat compares each condition with the one it saw
last (kept in Redis, `store/notify.py`) and only a change makes an event: one message when a
sync starts failing, one when it stops, never one per check. A condition that is seen for the
first time as fine says nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.rollout import Phase, Rollout
from fleetsync.shared.model.status import Health, SyncState

FIRING = "firing"
RESOLVED = "resolved"
DEFAULT_PER_MINUTE = 30
MAX_PER_MINUTE = 600
SIGNATURE_HEADER = "X-Fleetsync-Signature"
"""`sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret `secret_env` names."""


class EventKind(StrEnum):
    SYNC_FAILED = "sync-failed"
    DEGRADED = "degraded"
    DRIFT = "drift"
    ROLLOUT_PAUSED = "rollout-paused"
    ROLLOUT_FINISHED = "rollout-finished"
    SOURCE_ERROR = "source-error"

    @property
    def per_pair(self) -> bool:
        return self in (EventKind.SYNC_FAILED, EventKind.DEGRADED, EventKind.DRIFT)

    @property
    def momentary(self) -> bool:
        """An event that happens and is over (a rollout finishing): it never resolves."""
        return self is EventKind.ROLLOUT_FINISHED


class NotifierKind(StrEnum):
    WEBHOOK = "webhook"
    """A JSON POST, signed with HMAC-SHA256 when `secret_env` is given."""
    SLACK = "slack"
    """A Slack incoming webhook (its URL is its secret)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One entry of fleet.yaml's `notifications`: where to send which events about what.

    The URL is `url_env`'s value in the notify worker's environment, or `url` as written
    (a URL that holds a secret, as Slack's do, belongs in `url_env`)."""

    name: str
    kind: NotifierKind
    events: tuple[EventKind, ...]
    url: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    applications: tuple[AppName, ...] = ()
    """Only events of these applications (every one when empty)."""
    clusters: tuple[ClusterName, ...] = ()
    """Only events on these clusters (every one when empty; an application's own events, of
    its source or rollout, are sent whatever the clusters)."""
    per_minute: int = DEFAULT_PER_MINUTE
    """At most this many messages a minute; more wait for the next minute."""

    def wants(self, event: Event) -> bool:
        return (
            event.kind in self.events
            and (not self.applications or event.application in self.applications)
            and (not self.clusters or not event.cluster or event.cluster in self.clusters)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "events": [e.value for e in self.events],
            "url": self.url,
            "url_env": self.url_env,
            "secret_env": self.secret_env,
            "applications": list(self.applications),
            "clusters": list(self.clusters),
            "per_minute": self.per_minute,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            name=str(data["name"]),
            kind=NotifierKind(data["kind"]),
            events=tuple(EventKind(e) for e in data["events"]),
            url=data.get("url"),
            url_env=data.get("url_env"),
            secret_env=data.get("secret_env"),
            applications=tuple(AppName(a) for a in data.get("applications") or ()),
            clusters=tuple(ClusterName(c) for c in data.get("clusters") or ()),
            per_minute=int(data.get("per_minute") or DEFAULT_PER_MINUTE),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A condition that changed: what it is about, whether it starts (firing) or ends
    (resolved), and what the store said when it changed."""

    id: str
    kind: EventKind
    state: str
    """FIRING or RESOLVED."""
    application: str
    cluster: str
    """Empty for an application's own events (source, rollout)."""
    revision: str
    message: str
    at: float

    @property
    def subject(self) -> str:
        return f"{self.application} on {self.cluster}" if self.cluster else self.application

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.kind.value,
            "state": self.state,
            "application": self.application,
            "cluster": self.cluster,
            "revision": self.revision,
            "message": self.message,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            id=str(data["id"]),
            kind=EventKind(data["event"]),
            state=str(data["state"]),
            application=str(data["application"]),
            cluster=str(data.get("cluster") or ""),
            revision=str(data.get("revision") or ""),
            message=str(data.get("message") or ""),
            at=float(data.get("at") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class Condition:
    """One subject's state for one kind of event: `token` FIRING (or, for a momentary event,
    what happened) or RESOLVED; the message and revision go into the event it makes."""

    kind: EventKind
    application: str
    cluster: str
    token: str
    revision: str = ""
    message: str = ""

    @property
    def field(self) -> str:
        """Where the last token of this subject is kept."""
        return f"{self.kind.value}|{self.application}|{self.cluster}"


def pair_conditions(status: PairStatus) -> list[Condition]:
    """The per-pair conditions a recorded status settles; a status that says nothing about one
    (an Unknown sync or health, a pair waiting for its first render) leaves it as it was."""
    revision = str(status.revision) if status.revision else ""
    rules = (
        # kind, firing, resolved
        (EventKind.SYNC_FAILED, status.failed, status.sync is not SyncState.UNKNOWN),
        (EventKind.DEGRADED, status.health is Health.DEGRADED, status.health is Health.HEALTHY),
        (EventKind.DRIFT, bool(status.drifted), status.sync is SyncState.SYNCED),
    )
    return [
        Condition(
            kind,
            status.application,
            status.cluster,
            FIRING if firing else RESOLVED,
            revision,
            status.message,
        )
        for kind, firing, resolved in rules
        if firing or resolved
    ]


def source_condition(app: str, error: str | None, revision: str) -> Condition:
    token = FIRING if error is not None else RESOLVED
    return Condition(EventKind.SOURCE_ERROR, app, "", token, revision, error or "source fixed")


def rollout_conditions(app: str, rollout: Rollout | None) -> list[Condition]:
    """Paused or not; finished (once per rollout, with how it ended)."""
    if rollout is None:
        return []
    revision = str(rollout.revision)
    paused = rollout.phase is Phase.PAUSED
    reason = rollout.reason or ("paused" if paused else str(rollout.phase))
    found = [
        Condition(
            EventKind.ROLLOUT_PAUSED,
            app,
            "",
            FIRING if paused else RESOLVED,
            revision,
            reason if paused else f"{rollout.phase}: {reason}",
        )
    ]
    if not rollout.phase.in_progress:
        message = f"{rollout.phase}" + (f": {rollout.reason}" if rollout.reason else "")
        token = f"{rollout.id}:{rollout.phase.value}"
        found.append(Condition(EventKind.ROLLOUT_FINISHED, app, "", token, revision, message))
    return found


def makes_event(condition: Condition, previous: str | None) -> bool:
    """Whether moving from `previous` (None: never seen) to `condition` is worth a message."""
    if previous == condition.token:
        return False
    if condition.token == RESOLVED:
        return previous is not None and not condition.kind.momentary
    return True


def event_of(condition: Condition, *, id: str, at: float) -> Event:
    state = RESOLVED if condition.token == RESOLVED else FIRING
    return Event(
        id=id,
        kind=condition.kind,
        state=state,
        application=condition.application,
        cluster=condition.cluster,
        revision=condition.revision,
        message=condition.message,
        at=at,
    )


_WORDS = {
    EventKind.SYNC_FAILED: ("sync failed", "syncs again"),
    EventKind.DEGRADED: ("Degraded", "Healthy again"),
    EventKind.DRIFT: ("drifted from Git", "back in sync with Git"),
    EventKind.ROLLOUT_PAUSED: ("rollout paused", "rollout no longer paused"),
    EventKind.ROLLOUT_FINISHED: ("rollout finished", "rollout finished"),
    EventKind.SOURCE_ERROR: ("source error", "source fixed"),
}


def summary(event: Event) -> str:
    """`web on prod-1: sync failed at main@sha1:abc: <message>`."""
    words = _WORDS[event.kind][0 if event.state == FIRING else 1]
    at = f" at {event.revision}" if event.revision else ""
    text = f"{event.subject}: {words}{at}"
    return f"{text}: {event.message}" if event.message else text


def webhook_body(event: Event, notification: str) -> bytes:
    """The generic webhook's JSON body: the event, the notification's name and a summary."""
    body = {**event.to_json(), "notification": notification, "summary": summary(event)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def slack_body(event: Event) -> bytes:
    """Slack's incoming-webhook shape: `text` (the fallback) and one section block."""
    mark = ":red_circle:" if event.state == FIRING else ":large_green_circle:"
    if event.kind.momentary:
        mark = ":checkered_flag:"
    text = f"{mark} fleetsync: {summary(event)}"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return json.dumps({"text": text, "blocks": blocks}, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: `sha256=` and the body's HMAC-SHA256 in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
