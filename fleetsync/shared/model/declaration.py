"""The fleet declaration as typed values: repositories, clusters, applications, targets.

`fleetsync.shared.fleet` builds these from fleet.yaml with precise errors; here they are plain
values with the target resolution rules and a JSON round trip (the scheduler publishes the last
good declaration to Redis, workers read it from there). No secret is ever part of a declaration:
credentials are references (environment variable names, file paths).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.notification import Notification


class RendererKind(StrEnum):
    AUTO = "auto"
    PLAIN = "plain"
    KUSTOMIZE = "kustomize"
    HELM = "helm"
    JSONNET = "jsonnet"


class RepoType(StrEnum):
    """Where an application's source comes from."""

    GIT = "git"
    HELM = "helm"
    """A Helm chart repository: an index.yaml over https or http."""
    OCI = "oci"
    """An OCI registry holding charts (`oci://host/path`)."""


class ReplacePolicy(StrEnum):
    """When a sync may delete and recreate an object instead of updating it in place."""

    NEVER = "never"
    ON_IMMUTABLE = "onImmutable"
    """When a field that cannot change in place changed (a Deployment's selector...)."""


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where a worker finds a repository's credentials; never the credentials themselves."""

    username_env: str | None = None
    password_env: str | None = None
    ssh_key_file: str | None = None
    token_env: str | None = None
    """A bearer token (chart repositories and OCI registries)."""


@dataclass(frozen=True, slots=True)
class Repository:
    name: RepoName
    url: str
    ref: str = "main"
    interval: float = 60.0
    credentials: Credentials | None = None
    type: RepoType = RepoType.GIT
    insecure: bool = False
    """OCI only: talk plain HTTP to the registry (the user said so)."""
    ca_file: str | None = None
    """Chart repositories and OCI registries: a PEM bundle to trust for TLS, besides the
    system's."""

    @property
    def is_chart_source(self) -> bool:
        return self.type is not RepoType.GIT


@dataclass(frozen=True, slots=True)
class Cluster:
    name: ClusterName
    kubeconfig: str
    context: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    """Free-form per-cluster values, read by applications that substitute cluster variables
    (`${cluster.values.PATH}`)."""
    watch: bool = True
    """Drift on this cluster is noticed by `fleetsync watch` processes as it happens (False:
    by the applications' interval checks alone)."""


@dataclass(frozen=True, slots=True)
class SelectorRequirement:
    key: str
    operator: SelectorOperator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case SelectorOperator.IN:
                return labels.get(self.key) in self.values
            case SelectorOperator.NOT_IN:
                return labels.get(self.key) not in self.values
            case SelectorOperator.EXISTS:
                return self.key in labels
            case SelectorOperator.DOES_NOT_EXIST:
                return self.key not in labels


@dataclass(frozen=True, slots=True)
class Selector:
    """A Kubernetes-style label selector; an empty selector matches every cluster."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True, slots=True)
class Targets:
    clusters: tuple[ClusterName, ...] = ()
    selector: Selector | None = None


@dataclass(frozen=True, slots=True)
class ValuesFrom:
    repository: RepoName
    path: str
    """A file in a Git repository of the fleet, relative to its root."""


@dataclass(frozen=True, slots=True)
class HelmOptions:
    release: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    values_files: tuple[str, ...] = ()
    values_from: ValuesFrom | None = None
    """Values from a file in a Git repository of the fleet: over valuesFiles, under values."""


@dataclass(frozen=True, slots=True)
class PatchTarget:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Patch:
    """A patch of one rendered object: a strategic merge patch (a mapping) or JSON 6902
    operations (a list)."""

    target: PatchTarget
    patch: Any


@dataclass(frozen=True, slots=True)
class Override:
    """Per-target customization: applied, in the order declared, to the clusters `selector`
    picks. Helm values merge over the application's (valuesFiles come after its own), `path`
    renders another directory, `patches` change the rendered objects."""

    name: str
    selector: Selector
    helm: HelmOptions = field(default_factory=HelmOptions)
    path: str | None = None
    patches: tuple[Patch, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectoryOptions:
    """Which files of the application directory the plain and jsonnet renderers read."""

    recurse: bool = True
    """Read subdirectories too (fleetsync's default; Argo CD's is false)."""
    include: tuple[str, ...] = ()
    """Globs of the files to read (all when empty); each must match some file."""
    exclude: tuple[str, ...] = ()
    """Globs of files to leave out, applied after `include`."""
    strict: bool = False
    """Files that hold no Kubernetes object are errors instead of skipped with a warning."""


@dataclass(frozen=True, slots=True)
class JsonnetVar:
    """An external variable or top-level argument: a string, or Jsonnet code when `code`."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True, slots=True)
class JsonnetOptions:
    ext_vars: tuple[JsonnetVar, ...] = ()
    tlas: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()
    """Library directories, relative to the repository root, searched by `import`."""


WATCHED_DRIFT_INTERVAL = 3600.0
"""The default backstop of a pair whose drift live watches cover: an hour (12 times the default
`driftInterval`). Its watches heal drift at once; the interval check only catches what a watch
could miss (an event the server never sent)."""


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    automated: bool = True
    prune: bool = True
    self_heal: bool = True
    drift_interval: float = 300.0
    watched_drift_interval: float | None = None
    """How often a pair whose drift live watches cover is checked anyway (the backstop); None:
    `WATCHED_DRIFT_INTERVAL`, or `drift_interval` when that is longer. A pair not covered (its
    cluster unwatched, its watch refused, failing or lost) is checked every `drift_interval`."""
    force_conflicts: bool = True
    allow_empty: bool = False
    """The application may be empty on purpose: a render that finds no object is accepted (it
    is an error otherwise), and a bundle that used to have objects and is now empty prunes
    everything (it prunes nothing otherwise)."""
    prune_on_removal: bool = False
    """Delete the application's objects when its entry leaves fleet.yaml (default: leave them)."""
    create_namespace: bool = False
    """Create the application's namespace when it is missing (never pruned)."""
    replace: ReplacePolicy = ReplacePolicy.NEVER
    wave_timeout: float = 600.0
    """How long a sync waits for a wave's earlier waves to become healthy before it fails."""
    hook_timeout: float = 600.0
    """How long one phase of hooks (and PostSync's wait for health) may take before the sync
    fails."""

    def drift_every(self, *, watched: bool) -> float:
        """Seconds between two interval drift checks of a pair: the backstop's when live
        watches cover the pair, `drift_interval` otherwise."""
        if not watched:
            return self.drift_interval
        chosen = self.watched_drift_interval
        return max(self.drift_interval, WATCHED_DRIFT_INTERVAL if chosen is None else chosen)


class FailurePolicy(StrEnum):
    """What a rollout does when a wave has more failed clusters than it tolerates."""

    PAUSE = "pause"
    """Stop where it is: every cluster keeps what it runs."""
    ROLLBACK = "rollback"
    """Return the clusters it reached to the revision they ran before."""


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """One wave of a rollout: named clusters, a label selector, or a percentage of the clusters
    no earlier wave took (exactly one of them)."""

    name: str
    clusters: tuple[ClusterName, ...] = ()
    selector: Selector | None = None
    percent: float | None = None


@dataclass(frozen=True, slots=True)
class RolloutPolicy:
    """How a new desired state reaches an application's clusters: wave after wave, each
    Synced and Healthy for `bake` seconds before the next starts."""

    waves: tuple[WaveSpec, ...] = ()
    """In order; clusters no wave takes form an implicit last wave."""
    max_parallel: int | None = None
    """Clusters of a wave reconciled at once (None: the whole wave)."""
    bake: float = 0.0
    progress_deadline: float = 600.0
    """Seconds a reached cluster has to become Synced and Healthy before it counts as failed."""
    max_failures: int = 0
    """Failed clusters a wave tolerates; one more stops the rollout."""
    on_failure: FailurePolicy = FailurePolicy.PAUSE


class WindowKind(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Window:
    """A change window: from each time `schedule` (cron) fires, for `duration` seconds, in
    `timezone`. A deny window holds automated syncs and rollout steps while it is open; allow
    windows hold them while none of them is open. Applies to `applications` (every one when
    empty) on the clusters `selector` matches (every one when None)."""

    name: str
    kind: WindowKind
    schedule: str
    duration: float
    timezone: str = "UTC"
    applications: tuple[AppName, ...] = ()
    selector: Selector | None = None
    manual_sync: bool = False
    """Whether `fleetsync sync` may apply while this window holds changes."""
    self_heal: bool = False
    """Whether drift is still corrected while this window holds changes (it is reported
    either way)."""

    def applies_to(self, app: str, labels: Mapping[str, str]) -> bool:
        return (not self.applications or app in self.applications) and (
            self.selector is None or self.selector.matches(labels)
        )


@dataclass(frozen=True, slots=True)
class Application:
    name: AppName
    repository: RepoName
    path: str
    namespace: str | None = None
    renderer: RendererKind = RendererKind.AUTO
    helm: HelmOptions = field(default_factory=HelmOptions)
    targets: Targets = field(default_factory=Targets)
    sync: SyncPolicy = field(default_factory=SyncPolicy)
    directory: DirectoryOptions = field(default_factory=DirectoryOptions)
    jsonnet: JsonnetOptions = field(default_factory=JsonnetOptions)
    depends_on: tuple[AppName, ...] = ()
    """Applications that must be Synced and Healthy on a cluster before this one changes there."""
    rollout: RolloutPolicy | None = None
    """How new desired states reach the clusters (the fleet's default unless the application
    declares its own); None: everywhere at once."""
    chart: str | None = None
    """On a chart repository or OCI registry: the chart's name (its path is the chart)."""
    version: str | None = None
    """The chart's version or a semver range (`6.7.1`, `>=6.0 <7`, `^6.7`, `~6.7`, `6.x`)."""
    substitute: bool = False
    """Replace cluster variables (`${cluster.name}`...) in the rendered output, per cluster."""
    overrides: tuple[Override, ...] = ()

    @property
    def varies(self) -> bool:
        """Whether its clusters may get different bundles: it substitutes cluster variables in
        its output, its Helm values or its jsonnet variables' values."""
        jsonnet = [v.value for v in (*self.jsonnet.ext_vars, *self.jsonnet.tlas)]
        return (
            self.substitute
            or bool(self.overrides)
            or "${" in json.dumps(self.helm.values)
            or any("${" in value for value in jsonnet)
        )


@dataclass(frozen=True, slots=True)
class Fleet:
    repositories: Mapping[RepoName, Repository] = field(default_factory=dict)
    clusters: Mapping[ClusterName, Cluster] = field(default_factory=dict)
    applications: Mapping[AppName, Application] = field(default_factory=dict)
    windows: tuple[Window, ...] = ()
    default_rollout: RolloutPolicy | None = None
    """`defaults.rollout`: already applied to every application that declares none."""
    notifications: tuple[Notification, ...] = ()
    _targets: dict[AppName, tuple[ClusterName, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """`targets_of`'s answers so far: a selector is matched against every cluster once per
    application, not once per reconcile (a declaration never changes; `replace` starts anew)."""

    def targets_of(self, app: AppName) -> tuple[ClusterName, ...]:
        """The clusters an application is applied to: named ones plus selected ones, sorted."""
        found = self._targets.get(app)
        if found is not None:
            return found
        spec = self.applications[app].targets
        chosen = set(spec.clusters)
        if spec.selector is not None:
            chosen |= {name for name, c in self.clusters.items() if spec.selector.matches(c.labels)}
        found = self._targets[app] = tuple(sorted(chosen))
        return found

    def unwatched(self) -> frozenset[ClusterName]:
        """The clusters declared `watch: false`: checked for drift by interval only."""
        return frozenset(name for name, c in self.clusters.items() if not c.watch)

    def applications_of(self, repo: RepoName) -> tuple[Application, ...]:
        return tuple(a for _, a in sorted(self.applications.items()) if a.repository == repo)

    def values_readers_of(self, repo: RepoName) -> tuple[RepoName, ...]:
        """The repositories whose applications take Helm values from a file in `repo`
        (`helm.valuesFrom`): a new commit there re-renders them."""
        return tuple(
            sorted(
                {
                    a.repository
                    for a in self.applications.values()
                    if a.helm.values_from is not None and a.helm.values_from.repository == repo
                }
            )
        )

    def to_json(self) -> dict[str, Any]:
        """The declaration as JSON values: each entry field by field, as `dataclasses.asdict`
        writes it, without its deep copy of every value (a declaration is immutable)."""
        return {
            "repositories": [_plain(r) for _, r in sorted(self.repositories.items())],
            "clusters": [_plain(c) for _, c in sorted(self.clusters.items())],
            "applications": [_plain(a) for _, a in sorted(self.applications.items())],
            "windows": [_plain(w) for w in self.windows],
            "default_rollout": _plain(self.default_rollout) if self.default_rollout else None,
            "notifications": [n.to_json() for n in self.notifications],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fleet:
        """Rebuild a declaration published by the scheduler (already validated)."""
        repos = [_repository(r) for r in data.get("repositories", [])]
        clusters = [
            Cluster(
                name=ClusterName(c["name"]),
                kubeconfig=c["kubeconfig"],
                context=c.get("context"),
                labels=dict(c.get("labels") or {}),
                values=dict(c.get("values") or {}),
                watch=bool(c.get("watch", True)),
            )
            for c in data.get("clusters", [])
        ]
        apps = [_application(a) for a in data.get("applications", [])]
        default = data.get("default_rollout")
        return cls(
            repositories={r.name: r for r in repos},
            clusters={c.name: c for c in clusters},
            applications={a.name: a for a in apps},
            windows=tuple(_window(w) for w in data.get("windows") or ()),
            default_rollout=_rollout(default) if default else None,
            notifications=tuple(Notification.from_json(n) for n in data.get("notifications") or ()),
        )


_FIELDS: dict[type, tuple[str, ...]] = {}
"""Each declaration dataclass's field names, looked up once per class."""
_LEAVES = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """`value` as JSON values: a dataclass as a dict of its fields, lists and tuples as lists,
    dicts as dicts, anything else (strings, numbers, booleans, enums, None) as it is."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    names = _FIELDS.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if hasattr(kind, "__dataclass_fields__"):
        _FIELDS[kind] = tuple(f.name for f in fields(value))
        return _plain(value)
    return value


def _repository(r: Mapping[str, Any]) -> Repository:
    creds = r.get("credentials")
    return Repository(
        name=RepoName(r["name"]),
        url=r["url"],
        ref=r.get("ref", "main"),
        interval=float(r.get("interval", 60.0)),
        credentials=Credentials(**creds) if creds else None,
        type=RepoType(r.get("type", "git")),
        insecure=bool(r.get("insecure", False)),
        ca_file=r.get("ca_file"),
    )


def _selector(sel: Mapping[str, Any] | None) -> Selector | None:
    if sel is None:
        return None
    return Selector(
        match_labels=dict(sel.get("match_labels") or {}),
        match_expressions=tuple(
            SelectorRequirement(
                key=e["key"],
                operator=SelectorOperator(e["operator"]),
                values=tuple(e["values"]),
            )
            for e in sel.get("match_expressions") or ()
        ),
    )


def _rollout(r: Mapping[str, Any]) -> RolloutPolicy:
    return RolloutPolicy(
        waves=tuple(
            WaveSpec(
                name=w["name"],
                clusters=tuple(ClusterName(c) for c in w.get("clusters") or ()),
                selector=_selector(w.get("selector")),
                percent=w.get("percent"),
            )
            for w in r.get("waves") or ()
        ),
        max_parallel=r.get("max_parallel"),
        bake=float(r.get("bake", 0.0)),
        progress_deadline=float(r.get("progress_deadline", 600.0)),
        max_failures=int(r.get("max_failures", 0)),
        on_failure=FailurePolicy(r.get("on_failure", FailurePolicy.PAUSE.value)),
    )


def _window(w: Mapping[str, Any]) -> Window:
    return Window(
        name=w["name"],
        kind=WindowKind(w["kind"]),
        schedule=w["schedule"],
        duration=float(w["duration"]),
        timezone=w.get("timezone", "UTC"),
        applications=tuple(AppName(a) for a in w.get("applications") or ()),
        selector=_selector(w.get("selector")),
        manual_sync=bool(w.get("manual_sync", False)),
        self_heal=bool(w.get("self_heal", False)),
    )


def _application(a: Mapping[str, Any]) -> Application:
    t = a.get("targets") or {}
    selector = _selector(t.get("selector"))
    h = a.get("helm") or {}
    values_from = h.get("values_from")
    return Application(
        name=AppName(a["name"]),
        repository=RepoName(a["repository"]),
        path=a["path"],
        namespace=a.get("namespace"),
        renderer=RendererKind(a.get("renderer", "auto")),
        helm=HelmOptions(
            release=h.get("release"),
            values=dict(h.get("values") or {}),
            values_files=tuple(h.get("values_files") or ()),
            values_from=(
                ValuesFrom(repository=RepoName(values_from["repository"]), path=values_from["path"])
                if values_from
                else None
            ),
        ),
        targets=Targets(
            clusters=tuple(ClusterName(c) for c in t.get("clusters") or ()), selector=selector
        ),
        sync=_sync_policy(a.get("sync") or {}),
        directory=_directory(a.get("directory") or {}),
        jsonnet=_jsonnet(a.get("jsonnet") or {}),
        depends_on=tuple(AppName(d) for d in a.get("depends_on") or ()),
        rollout=_rollout(a["rollout"]) if a.get("rollout") else None,
        chart=a.get("chart"),
        version=a.get("version"),
        substitute=bool(a.get("substitute", False)),
        overrides=tuple(_override(o) for o in a.get("overrides") or ()),
    )


def _override(o: Mapping[str, Any]) -> Override:
    h = o.get("helm") or {}
    return Override(
        name=o["name"],
        selector=_selector(o["selector"]) or Selector(),
        helm=HelmOptions(
            values=dict(h.get("values") or {}), values_files=tuple(h.get("values_files") or ())
        ),
        path=o.get("path"),
        patches=tuple(
            Patch(target=PatchTarget(**p["target"]), patch=p["patch"])
            for p in o.get("patches") or ()
        ),
    )


def _directory(d: Mapping[str, Any]) -> DirectoryOptions:
    return DirectoryOptions(
        recurse=bool(d.get("recurse", True)),
        include=tuple(d.get("include") or ()),
        exclude=tuple(d.get("exclude") or ()),
        strict=bool(d.get("strict", False)),
    )


def _jsonnet(j: Mapping[str, Any]) -> JsonnetOptions:
    def variables(items: Any) -> tuple[JsonnetVar, ...]:
        return tuple(
            JsonnetVar(str(v["name"]), str(v["value"]), bool(v.get("code"))) for v in items
        )

    return JsonnetOptions(
        ext_vars=variables(j.get("ext_vars") or ()),
        tlas=variables(j.get("tlas") or ()),
        libs=tuple(j.get("libs") or ()),
    )


def _sync_policy(s: Mapping[str, Any]) -> SyncPolicy:
    values = dict(s)
    if "replace" in values:
        values["replace"] = ReplacePolicy(values["replace"])
    return SyncPolicy(**values)
