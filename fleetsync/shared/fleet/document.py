"""The whole fleet.yaml: its top-level sections read in order, the checks that need the whole
fleet, and the warnings about what resolves to nothing."""

from __future__ import annotations

import yaml

import fleetsync.shared.fleet.variants as fleet_variants
from fleetsync.shared.fleet.applications import APPLICATION_KEYS, ApplicationReader
from fleetsync.shared.fleet.clusters import CLUSTER_KEYS, ClusterReader
from fleetsync.shared.fleet.nodes import At, line_of, node_kind
from fleetsync.shared.fleet.notifications import KEYS as _NOTIFICATION_KEYS
from fleetsync.shared.fleet.notifications import REQUIRED as _NOTIFICATION_REQUIRED
from fleetsync.shared.fleet.notifications import read_notification
from fleetsync.shared.fleet.repositories import REPOSITORY_KEYS, RepositoryReader
from fleetsync.shared.fleet.windows import WindowReader
from fleetsync.shared.model.declaration import Fleet

_TOP_KEYS = ("repositories", "clusters", "applications", "defaults", "windows", "notifications")


class FleetReader(RepositoryReader, ClusterReader, ApplicationReader, WindowReader):
    """Walks the composed tree, building model values and recording every issue it meets."""

    def fleet(self, root: yaml.Node) -> Fleet | None:
        if not isinstance(root, yaml.MappingNode):
            message = "must be a mapping of repositories, clusters and applications"
            self.error(
                At(root, "", line_of(root)), f"the top level {message}, not {node_kind(root)}"
            )
            return None
        top = self.mapping(At(root, "", line_of(root)), _TOP_KEYS) or {}
        repository_keys = (REPOSITORY_KEYS, ("name", "url"))
        repositories = self.section(top, "repositories", repository_keys, self.repository)
        cluster_keys = (CLUSTER_KEYS, ("name", "kubeconfig"))
        clusters = self.section(top, "clusters", cluster_keys, self.cluster)
        if "defaults" in top:
            self.defaults(top["defaults"])
        application_keys = (APPLICATION_KEYS, ("name", "repository"))
        applications = self.section(top, "applications", application_keys, self.application)
        windows = self.windows(top["windows"]) if "windows" in top else ()
        notification_keys = (_NOTIFICATION_KEYS, _NOTIFICATION_REQUIRED)
        notifications = self.section(
            top, "notifications", notification_keys, lambda n, f: read_notification(self, n, f)
        )
        if self.errors:
            return None
        fleet = Fleet(
            repositories={r.name: r for r in repositories},
            clusters={c.name: c for c in clusters},
            applications={a.name: a for a in applications},
            windows=windows,
            default_rollout=self.default_rollout or None,
            notifications=tuple(notifications),
        )
        self.check_dependencies(fleet)
        self.check_waves(fleet)
        fleet_variants.check_variables(self, fleet)
        if self.errors:
            return None
        self.warn_unused(fleet)
        return fleet

    def warn_unused(self, fleet: Fleet) -> None:
        """Warnings that need the whole, valid fleet: targets and uses that resolve to nothing."""
        targeted: set[str] = set()
        for app_name, app in fleet.applications.items():
            chosen = fleet.targets_of(app_name)
            targeted.update(chosen)
            at = self.seen.get(("applications.targets", app_name))
            at = at or self.seen[("applications", app_name)]
            if chosen:
                continue
            if app.targets.selector is None and not app.targets.clusters:
                self.warn(at, f"application '{app_name}' has no targets: it is applied nowhere")
            else:
                message = "targets no cluster: its selector matches none of the declared clusters"
                self.warn(at, f"application '{app_name}' {message}")
        for cluster_name in fleet.clusters:
            if cluster_name not in targeted:
                at = self.seen[("clusters", cluster_name)]
                self.warn(at, f"no application targets cluster '{cluster_name}'")
        # The repositories some application reads, collected in one pass over the applications:
        # asking `applications_of` per repository sorted every application once per repository
        # (minutes of the beat's CPU for 1,000 repositories and 10,000 applications).
        used = {a.repository for a in fleet.applications.values()}
        used |= {
            a.helm.values_from.repository
            for a in fleet.applications.values()
            if a.helm.values_from is not None
        }
        for repo_name in fleet.repositories:
            if repo_name not in used:
                at = self.seen[("repositories", repo_name)]
                self.warn(at, f"no application uses repository '{repo_name}'")
