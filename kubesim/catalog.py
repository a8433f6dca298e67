"""The resource types a simulated cluster serves: the built-in table and its lookups.

A `ResourceType` is what discovery advertises for one resource: group, served versions, plural,
kind, scope, short names, verbs and subresources. Custom resources add entries per cluster (see
`crds`); the built-ins are one immutable table shared by every cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ALL_VERBS: tuple[str, ...] = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)
NAMESPACE_VERBS: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One servable resource, as discovery describes it."""

    group: str
    versions: tuple[str, ...]
    resource: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    has_scale: bool = False
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    label_name: bool = False
    """Names must be DNS-1123 labels (namespaces, services) rather than subdomains."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `configmaps` for the core group."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def tracks_generation(self) -> bool:
        """Whether writes to the spec bump `metadata.generation`."""
        return self.has_status or self.group not in BUILTIN_GROUPS

    def api_version(self, version: str | None = None) -> str:
        v = version or self.preferred_version
        return f"{self.group}/{v}" if self.group else v


def _t(group: str, version: str, resource: str, kind: str, namespaced: bool = True,
       short: tuple[str, ...] = (), status: bool = False, scale: bool = False,
       verbs: tuple[str, ...] = ALL_VERBS, label_name: bool = False,
       categories: tuple[str, ...] = ()) -> ResourceType:
    return ResourceType(group, (version,), resource, kind, namespaced, short, status, scale, verbs,
                        categories, label_name)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", False, ("ns",), status=True, verbs=NAMESPACE_VERBS,
       label_name=True),
    _t("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _t("", "v1", "secrets", "Secret"),
    _t("", "v1", "services", "Service", short=("svc",), status=True, label_name=True,
       categories=("all",)),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _t("", "v1", "pods", "Pod", short=("po",), status=True, categories=("all",)),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _t("", "v1", "events", "Event", short=("ev",)),
    _t("apps", "v1", "deployments", "Deployment", short=("deploy",), status=True, scale=True,
       categories=("all",)),
    _t("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), status=True, scale=True,
       categories=("all",)),
    _t("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), status=True, categories=("all",)),
    _t("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), status=True, scale=True,
       categories=("all",)),
    _t("batch", "v1", "jobs", "Job", status=True, categories=("all",)),
    _t("batch", "v1", "cronjobs", "CronJob", short=("cj",), status=True, categories=("all",)),
    _t("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), status=True),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _t("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       False, ("crd", "crds"), status=True),
    _t("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
       short=("hpa",), status=True, categories=("all",)),
    _t("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",),
       status=True),
)

BUILTIN_GROUPS: frozenset[str] = frozenset(t.group for t in BUILTIN_TYPES)


class TypeTable:
    """Resource types indexed for routing: by (group, version, plural) and by (group, kind)."""

    __slots__ = ("_by_key", "_by_kind", "_by_path", "cache", "types")

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.types: tuple[ResourceType, ...] = tuple(types)
        self.cache: dict[str, bytes] = {}
        """Serialized discovery documents for this table (see `discovery`)."""
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_key: dict[tuple[str, str], ResourceType] = {}
        for t in self.types:
            self._by_key[(t.group, t.resource)] = t
            for v in t.versions:
                self._by_path[(t.group, v, t.resource)] = t
            self._by_kind[(t.group, t.kind)] = t

    def by_path(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_path.get((group, version, resource))

    def by_key(self, group: str, resource: str) -> ResourceType | None:
        return self._by_key.get((group, resource))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, in table order (core group is "")."""
        out: dict[str, list[str]] = {}
        for t in self.types:
            versions = out.setdefault(t.group, [])
            for v in t.versions:
                if v not in versions:
                    versions.append(v)
        return out


BUILTIN_TABLE = TypeTable(BUILTIN_TYPES)


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version
