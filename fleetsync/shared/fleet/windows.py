"""fleet.yaml's `windows`: change windows that allow or deny syncs on a cron schedule."""

from __future__ import annotations

from typing import Any

import yaml

from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.selectors import SelectorReader
from fleetsync.shared.model.declaration import (
    Window,
    WindowKind,
)
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.planning.cron import CronError, parse_cron, zone

_WINDOW_KEYS: tuple[str, ...] = ("name", "kind", "schedule", "duration", "timezone")
_WINDOW_KEYS += ("applications", "clusters")
_WINDOW_KEYS += ("manualSync", "selfHeal")
_WINDOW_CLUSTER_KEYS = ("selector",)


class WindowReader(SelectorReader):
    """Reads `windows` entries."""

    def windows(self, at: At) -> tuple[Window, ...]:
        found: list[Window] = []
        names: set[str] = set()
        for item in self.sequence(at):
            before = len(self.errors)
            f = self.mapping(item, _WINDOW_KEYS, ("name", "kind", "schedule", "duration"))
            if f is None:
                continue
            window = self.window(item, f)
            if window is None:
                continue
            if window.name in names:  # also when the first had a mistake: both said at once
                self.error(f["name"], f"window '{window.name}' is already declared")
                continue
            names.add(window.name)
            if len(self.errors) == before:
                found.append(window)
        return tuple(found)

    def window(self, at: At, f: dict[str, At]) -> Window | None:
        name = self.string(f["name"]) if "name" in f else None
        kinds = [k.value for k in WindowKind]
        kind = self.choice(f["kind"], kinds) if "kind" in f else None
        schedule = self.schedule(f["schedule"]) if "schedule" in f else None
        duration = None
        if "duration" in f:
            node = f["duration"].node
            raw = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
            if raw.startswith("-") or raw in ("0", "0s", "0m", "0h"):
                self.error(f["duration"], f"'{raw}': a window needs a positive duration (30m, 2h)")
            else:
                duration = self.duration(f["duration"])
        options: dict[str, Any] = {}
        if "timezone" in f:
            text = self.string(f["timezone"])
            if text is not None:
                try:
                    zone(text)
                    options["timezone"] = text
                except CronError as exc:
                    self.error(f["timezone"], str(exc))
        if "applications" in f:
            apps = []
            for item in self.sequence(f["applications"]):
                app = self.string(item)
                if app is not None and self.declared_in("applications", item, app):
                    apps.append(AppName(app))
            options["applications"] = tuple(apps)
        if "clusters" in f:
            g = self.mapping(f["clusters"], _WINDOW_CLUSTER_KEYS)
            if g is not None and "selector" in g:
                options["selector"] = self.selector(g["selector"])
        for key, attribute in (("manualSync", "manual_sync"), ("selfHeal", "self_heal")):
            if key in f:
                options[attribute] = self.boolean(f[key])
        if None in (name, kind, schedule, duration) or None in options.values():
            return None
        assert name and kind and schedule and duration
        return Window(
            name=name, kind=WindowKind(kind), schedule=schedule, duration=duration, **options
        )

    def schedule(self, at: At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        try:
            parse_cron(text)
        except CronError as exc:
            self.error(at, f"not a cron schedule: {exc}")
            return None
        return text.strip()
