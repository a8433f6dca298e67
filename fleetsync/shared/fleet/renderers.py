"""The options of the plain (`directory`) and Jsonnet (`jsonnet`) renderers."""

from __future__ import annotations

import json
from typing import Any

import yaml

import fleetsync.shared.fleet.variants as fleet_variants
from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.walk import Walker
from fleetsync.shared.model.declaration import (
    DirectoryOptions,
    JsonnetOptions,
    JsonnetVar,
)

_DIRECTORY_KEYS = ("recurse", "include", "exclude", "strict")
_JSONNET_KEYS = ("extVars", "tlas", "libs")
_JSONNET_VAR_KEYS = ("name", "value", "code")


class RendererReader(Walker):
    """Reads `directory` and `jsonnet`."""

    def directory(self, at: At) -> DirectoryOptions | None:
        f = self.mapping(at, _DIRECTORY_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {
            key: self.boolean(f[key]) for key in ("recurse", "strict") if key in f
        }
        for key in ("include", "exclude"):
            if key in f:
                options[key] = self.globs(f[key])
        if any(value is None for value in options.values()):
            return None
        return DirectoryOptions(**options)

    def globs(self, at: At) -> tuple[str, ...] | None:
        """One glob or a list of them, relative to the application directory."""
        items = self.sequence(at) if isinstance(at.node, yaml.SequenceNode) else [at]
        globs: list[str] = []
        for item in items:
            text = self.string(item)
            if text is None:
                return None
            if text.startswith("/") or ".." in text.split("/"):
                self.error(item, "must be relative to the application directory, without '..'")
                return None
            globs.append(text)
        return tuple(globs)

    def jsonnet(self, at: At) -> JsonnetOptions | None:
        f = self.mapping(at, _JSONNET_KEYS)
        if f is None:
            return None
        ext_vars = self.jsonnet_vars(f["extVars"]) if "extVars" in f else ()
        tlas = self.jsonnet_vars(f["tlas"]) if "tlas" in f else ()
        libs: list[str | None] = []
        for item in self.sequence(f["libs"]) if "libs" in f else []:
            libs.append(self.app_path(item))
        if ext_vars is None or tlas is None or None in libs:
            return None
        return JsonnetOptions(
            ext_vars=ext_vars, tlas=tlas, libs=tuple(lib for lib in libs if lib is not None)
        )

    def jsonnet_vars(self, at: At) -> tuple[JsonnetVar, ...] | None:
        """`{name: value}` (a string, or any other value as Jsonnet code), or Argo CD's list
        of `{name, value, code}`."""
        found: list[JsonnetVar] = []
        if isinstance(at.node, yaml.MappingNode):
            for name, entry in (self.mapping(at, None) or {}).items():
                value = self.plain(entry)
                code = not isinstance(value, str)
                found.append(JsonnetVar(name, json.dumps(value) if code else value, code))
            fleet_variants.jsonnet_variables(self, at, found)
            return tuple(found)
        for item in self.sequence(at):
            f = self.mapping(item, _JSONNET_VAR_KEYS, ("name", "value"))
            if f is None or "name" not in f or "value" not in f:
                return None
            text = self.string(f["value"], required=False)
            flag = self.boolean(f["code"]) if "code" in f else False
            label = self.string(f["name"])
            if label is None or text is None or flag is None:
                return None
            found.append(JsonnetVar(label, text, flag))
        names = [v.name for v in found]
        if len(set(names)) != len(names):
            self.error(at, "names a variable twice")
            return None
        fleet_variants.jsonnet_variables(self, at, found)
        return tuple(found)
