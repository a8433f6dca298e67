"""fleet.yaml's `applications`: source, renderer and its options, targets, sync policy,
dependencies and rollout."""

from __future__ import annotations

from typing import Any

import fleetsync.shared.fleet.variants as fleet_variants
from fleetsync.shared.fleet.dependencies import DependencyReader
from fleetsync.shared.fleet.durations import format_duration
from fleetsync.shared.fleet.helm import HelmReader
from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.renderers import RendererReader
from fleetsync.shared.fleet.rollouts import RolloutReader
from fleetsync.shared.model.declaration import (
    Application,
    RendererKind,
    ReplacePolicy,
    RepoType,
    SyncPolicy,
    Targets,
)
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName

APPLICATION_KEYS: tuple[str, ...] = ("name", "repository", "path", "namespace", "renderer")
APPLICATION_KEYS += ("helm", "targets", "sync", "directory", "jsonnet", "dependsOn", "rollout")
APPLICATION_KEYS += ("chart", "version", "substitute", "overrides")
_TARGET_KEYS = ("clusters", "selector")
_SYNC_FLAGS = {
    "automated": "automated",
    "prune": "prune",
    "selfHeal": "self_heal",
    "forceConflicts": "force_conflicts",
    "allowEmpty": "allow_empty",
    "pruneOnRemoval": "prune_on_removal",
    "createNamespace": "create_namespace",
}
_SYNC_KEYS = (*_SYNC_FLAGS, "driftInterval", "watchedDriftInterval", "replace", "waveTimeout")
_SYNC_KEYS += ("hookTimeout",)


class ApplicationReader(HelmReader, RendererReader, RolloutReader, DependencyReader):
    """Reads `applications` entries."""

    def application(self, name: str | None, f: dict[str, At]) -> Application | None:
        repository = self.string(f["repository"]) if "repository" in f else None
        if repository is not None:
            self.declared_in("repositories", f["repository"], repository)
        kind = self.repo_types.get(repository or "", RepoType.GIT)
        path = self.app_path(f["path"]) if "path" in f else None
        options: dict[str, Any] = {}
        if kind is RepoType.GIT:
            for key in ("chart", "version"):
                if key in f:
                    self.error(
                        f[key],
                        f"applies only to applications on a chart repository or OCI registry; "
                        f"repository '{repository}' is a Git repository (give a path)",
                    )
            if "path" not in f:
                self.error(self.item, "missing required key 'path'")
        else:
            if "path" in f:
                self.error(
                    f["path"],
                    f"an application on {kind} repository '{repository}' names its chart, not a "
                    "path",
                )
                path = None
            if "chart" not in f:
                self.error(
                    self.item,
                    f"an application on {kind} repository '{repository}' needs 'chart' (the "
                    "chart's name) and a 'version' or range",
                )
            else:
                path = self.chart_name(f["chart"])
                options["chart"] = path
            if "version" in f:
                options["version"] = self.version_range(f["version"])
        if "namespace" in f:
            namespace = self.string(f["namespace"])
            if namespace is not None:
                options["namespace"] = self.dns_name(f["namespace"], namespace, what="namespace")
        renderer: RendererKind | None = RendererKind.AUTO
        if "renderer" in f:
            choice = self.choice(f["renderer"], [kind.value for kind in RendererKind])
            renderer = options["renderer"] = RendererKind(choice) if choice else None
        if kind is not RepoType.GIT and renderer not in (RendererKind.HELM, RendererKind.AUTO):
            self.error(
                f["renderer"], f"a chart renders with renderer helm (or auto), not {renderer}"
            )
        if "helm" in f:
            if renderer is not None and renderer not in (RendererKind.HELM, RendererKind.AUTO):
                self.error(f["helm"], f"applies only to renderer helm or auto, not {renderer}")
            options["helm"] = self.helm(f["helm"], path)
            if options["helm"] is not None and name is not None:
                self.seen[("applications.helm", name)] = f["helm"]
                fleet_variants.helm_values_variables(self, f["helm"], options["helm"].values)
        if "substitute" in f:
            options["substitute"] = fleet_variants.substitute_flag(self, f["substitute"])
        if "overrides" in f:
            options["overrides"] = fleet_variants.overrides(
                self, f["overrides"], name, path, git=kind is RepoType.GIT, renderer=renderer
            )
        if "directory" in f:
            renderers = (RendererKind.PLAIN, RendererKind.JSONNET, RendererKind.AUTO)
            if renderer is not None and renderer not in renderers:
                self.error(
                    f["directory"],
                    f"applies only to renderer plain, jsonnet or auto, not {renderer}",
                )
            options["directory"] = self.directory(f["directory"])
        if "jsonnet" in f:
            if renderer is not None and renderer not in (RendererKind.JSONNET, RendererKind.AUTO):
                self.error(
                    f["jsonnet"], f"applies only to renderer jsonnet or auto, not {renderer}"
                )
            options["jsonnet"] = self.jsonnet(f["jsonnet"])
        if "targets" in f:
            options["targets"] = self.targets(f["targets"])
            if name is not None:
                self.seen[("applications.targets", name)] = f["targets"]
        if "sync" in f:
            options["sync"] = self.sync(f["sync"])
        if "dependsOn" in f:
            options["depends_on"] = self.depends_on(f["dependsOn"], name)
        if "rollout" in f:
            policy = self.rollout(f["rollout"])
            options["rollout"] = policy or None
            if name is not None:
                self.seen[("applications.rollout", name)] = f["rollout"]
        elif self.default_rollout is not None:
            options["rollout"] = self.default_rollout
        if name is None or repository is None or path is None:
            return None
        return Application(
            name=AppName(name), repository=RepoName(repository), path=path, **options
        )

    def targets(self, at: At) -> Targets | None:
        f = self.mapping(at, _TARGET_KEYS)
        if f is None:
            return None
        clusters: list[ClusterName] = []
        for item in self.sequence(f["clusters"]) if "clusters" in f else []:
            name = self.string(item)
            if name is None or not self.declared_in("clusters", item, name):
                continue
            if name in clusters:
                self.warn(item, f"cluster '{name}' is listed twice")
            else:
                clusters.append(ClusterName(name))
        selector = self.selector(f["selector"]) if "selector" in f else None
        return Targets(clusters=tuple(clusters), selector=selector)

    def sync(self, at: At) -> SyncPolicy | None:
        f = self.mapping(at, _SYNC_KEYS)
        if f is None:
            return None
        options: dict[str, Any] = {
            attribute: self.boolean(f[key]) for key, attribute in _SYNC_FLAGS.items() if key in f
        }
        if "driftInterval" in f:
            options["drift_interval"] = self.duration(f["driftInterval"])
        if "watchedDriftInterval" in f:
            options["watched_drift_interval"] = self.duration(f["watchedDriftInterval"])
        if "waveTimeout" in f:
            options["wave_timeout"] = self.duration(f["waveTimeout"])
        if "hookTimeout" in f:
            options["hook_timeout"] = self.duration(f["hookTimeout"])
        if "replace" in f:
            choice = self.choice(f["replace"], [policy.value for policy in ReplacePolicy])
            options["replace"] = ReplacePolicy(choice) if choice is not None else None
        if any(value is None for value in options.values()):
            return None
        policy = SyncPolicy(**options)
        watched = policy.watched_drift_interval
        if watched is not None and watched < policy.drift_interval:
            self.error(
                f["watchedDriftInterval"],
                f"{format_duration(watched)} is shorter than driftInterval "
                f"({format_duration(policy.drift_interval)}): a pair live watches cover is "
                "checked no more often than one they do not; drop it or make it longer",
            )
            return None
        return policy
