"""An application's Helm options (release, values, values files, values from another
repository) and, for applications on a chart source, the chart's name and version range."""

from __future__ import annotations

import posixpath
import re
from typing import Any

import yaml

from fleetsync.shared.charts.semver import RangeError, parse_range
from fleetsync.shared.fleet.nodes import At, node_kind
from fleetsync.shared.fleet.walk import Walker
from fleetsync.shared.model.declaration import (
    HelmOptions,
    RepoType,
    ValuesFrom,
)
from fleetsync.shared.model.ids import RepoName

_HELM_KEYS = ("release", "values", "valuesFiles", "valuesFrom")
_VALUES_FROM_KEYS = ("repository", "path")
_CHART_NAME = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")


class HelmReader(Walker):
    """Reads `helm`, `chart` and `version`."""

    def helm(self, at: At, app_path: str | None) -> HelmOptions | None:
        f = self.mapping(at, _HELM_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {}
        if "release" in f:
            release = self.string(f["release"])
            if release is not None:
                what = "Helm release name"
                options["release"] = self.dns_name(f["release"], release, what=what, limit=53)
        if "values" in f:
            if isinstance(f["values"].node, yaml.MappingNode):
                options["values"] = self.plain(f["values"])
            else:
                self.error(f["values"], f"must be a mapping, not {node_kind(f['values'].node)}")
        if "valuesFiles" in f:
            files = [self.values_file(item, app_path) for item in self.sequence(f["valuesFiles"])]
            options["values_files"] = tuple(name for name in files if name is not None)
        if "valuesFrom" in f:
            options["values_from"] = self.values_from(f["valuesFrom"])
        return HelmOptions(**options)

    def values_from(self, at: At) -> ValuesFrom | None:
        """A values file in a Git repository of the fleet."""
        f = self.mapping(at, _VALUES_FROM_KEYS, _VALUES_FROM_KEYS)
        if f is None or "repository" not in f or "path" not in f:
            return None
        repository = self.string(f["repository"])
        path = self.app_path(f["path"])
        if repository is None or path is None:
            return None
        if not self.declared_in("repositories", f["repository"], repository):
            return None
        kind = self.repo_types.get(repository, RepoType.GIT)
        if kind is not RepoType.GIT:
            self.error(
                f["repository"],
                f"repository '{repository}' is of type {kind}: values come from a Git repository",
            )
            return None
        self.seen[("values.repository", repository)] = f["repository"]
        return ValuesFrom(repository=RepoName(repository), path=path)

    def chart_name(self, at: At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if len(text) <= 250 and _CHART_NAME.fullmatch(text):
            return text
        self.error(
            at,
            f"'{text}' is not a chart name: lowercase letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit",
        )
        return None

    def version_range(self, at: At) -> str | None:
        """A chart version or semver range; numbers written unquoted keep their text."""
        text = self.string(at)
        if text is None:
            return None
        try:
            parse_range(text)
        except RangeError as exc:
            self.error(at, str(exc))
            return None
        return text.strip()

    def values_file(self, at: At, app_path: str | None) -> str | None:
        """A values file, relative to the application path, that stays inside the repository."""
        text = self.string(at)
        if text is None:
            return None
        if text.startswith("/"):
            self.error(at, "must be relative to the application path, not absolute")
            return None
        if app_path is not None:
            inside = posixpath.normpath(posixpath.join(app_path, text))
            if inside == ".." or inside.startswith("../"):
                self.error(at, "leaves the repository: values files must be inside it")
                return None
        return text
