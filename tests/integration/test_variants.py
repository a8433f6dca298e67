"""Per-cluster variants through poll and fetch, on real Redis and git over the network: one
render per distinct input, one bundle per distinct resolution of the cluster variables, and a
change to one cluster's values moves only the clusters whose input changed."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fleetsync.shared.desired import Because, desired_for_pair, desired_for_pairs
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    DirectoryOptions,
    Fleet,
    HelmOptions,
    Override,
    Patch,
    PatchTarget,
    RendererKind,
    Repository,
    RolloutPolicy,
    Selector,
    Targets,
    WaveSpec,
)
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.planning import rollout as planner
from fleetsync.shared.render import RenderLimits
from fleetsync.shared.source import (
    DEFAULT_LIMITS,
    FetchOutcome,
    fetch_repository,
    poll_repository,
)
from fleetsync.shared.store import Store
from tests.support.git_server import GitServer, WorkRepo

APP = AppName("web")
SETTINGS = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data:
      region: "${cluster.values.region}"
      tier: "${cluster.labels.tier:=standard}"
      script: "echo $${HOME}"
    """)


def _clusters(regions: dict[str, str], **extra: dict[str, Any]) -> dict[ClusterName, Cluster]:
    return {
        ClusterName(name): Cluster(
            name=ClusterName(name),
            kubeconfig=f"/k/{name}",
            labels={"env": "prod"},
            values={"region": region, **extra.get(name, {})},
        )
        for name, region in regions.items()
    }


REGIONS = {"eu-1": "eu", "eu-2": "eu", "us-1": "us", "us-2": "us"}


def _labelled(clusters: dict[ClusterName, Cluster]) -> dict[ClusterName, Cluster]:
    """`clusters` with eu-2 labelled size=big and the us clusters region=us."""
    labels = {"eu-2": {"size": "big"}, "us-1": {"region": "us"}, "us-2": {"region": "us"}}
    return {
        name: replace(c, labels={**c.labels, **labels.get(name, {})})
        for name, c in clusters.items()
    }


def _app(**options: Any) -> Application:
    """web on every prod cluster: apps/web rendered plain, cluster variables substituted, unless
    `options` say otherwise."""
    defaults: dict[str, Any] = {
        "path": "apps/web",
        "renderer": RendererKind.PLAIN,
        "substitute": True,
        "targets": Targets(selector=Selector(match_labels={"env": "prod"})),
    }
    return Application(
        name=APP, repository=RepoName("platform"), namespace="web", **{**defaults, **options}
    )


def _helm_app(**options: Any) -> Application:
    """web from the chart in charts/web."""
    return _app(path="charts/web", renderer=RendererKind.HELM, substitute=False, **options)


def _fleet(url: str, clusters: dict[ClusterName, Cluster], app: Application | None = None) -> Fleet:
    repo = Repository(name=RepoName("platform"), url=url, interval=10.0)
    app = app or _app()
    return Fleet(repositories={repo.name: repo}, clusters=clusters, applications={app.name: app})


def _sync(
    store: Store,
    fleet: Fleet,
    tmp_path: Path,
    *,
    force: bool = False,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> FetchOutcome:
    polled = poll_repository(store, fleet, RepoName("platform"))
    assert polled.error is None
    return _fetch(store, fleet, tmp_path, force=force, limits=limits)


def _fetch(
    store: Store,
    fleet: Fleet,
    tmp_path: Path,
    *,
    force: bool = False,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> FetchOutcome:
    return fetch_repository(
        store,
        fleet,
        RepoName("platform"),
        mirror_dir=tmp_path / "mirrors",
        scratch_dir=tmp_path / "scratch",
        force=force,
        limits=limits,
    )


def _data(store: Store, cluster: str) -> dict[str, str]:
    chosen = desired_for_pair(store, APP, ClusterName(cluster))
    assert chosen is not None
    bundle = store.get_bundle(chosen.digest)
    assert bundle is not None
    return dict(bundle.objects[0]["data"])


@pytest.fixture
def served(git_repo: WorkRepo, git_server: GitServer) -> tuple[WorkRepo, str]:
    git_repo.write("apps/web/settings.yaml", SETTINGS)
    git_repo.commit("web")
    return git_repo, git_server.git_url(git_repo.bare.name.removesuffix(".git"))


def test_clusters_resolving_alike_share_one_bundle_from_one_render(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    outcome = _sync(store, _fleet(url, _clusters(REGIONS)), tmp_path)
    assert outcome.failed == {}
    assert outcome.changed == {APP: ("eu-1", "eu-2", "us-1", "us-2")}
    assert (store.stats()["render"], store.stats()["variant_render"]) == (1, 2)
    assert _data(store, "eu-1") == {"region": "eu", "tier": "standard", "script": "echo ${HOME}"}
    assert _data(store, "us-2")["region"] == "us"
    chosen = desired_for_pairs(store, APP, [ClusterName(c) for c in REGIONS])
    digests = {c: d.digest for c, d in chosen.items() if d is not None}
    assert digests["eu-1"] == digests["eu-2"] != digests["us-1"] == digests["us-2"]
    state = store.desired(APP)
    assert state is not None and state.variants == 2


def test_cluster_variables_are_substituted_in_a_bundle_without_any_escaped_dollar(
    redis_url: str, tmp_path: Path, git_repo: WorkRepo, git_server: GitServer
) -> None:
    git_repo.write("apps/web/settings.yaml", SETTINGS.replace('  script: "echo $${HOME}"\n', ""))
    git_repo.commit("web")
    store = Store.connect(redis_url)
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    _sync(store, _fleet(url, _clusters(REGIONS)), tmp_path)
    assert _data(store, "eu-1") == {"region": "eu", "tier": "standard"}
    assert _data(store, "us-2") == {"region": "us", "tier": "standard"}


def test_the_application_s_directory_options_reach_its_render(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    repo.write("apps/web/nested/extra.yaml", SETTINGS.replace("name: settings", "name: extra"))
    repo.commit("a nested file")
    flat = _app(directory=DirectoryOptions(recurse=False))
    assert _sync(store, _fleet(url, _clusters(REGIONS), flat), tmp_path).failed == {}
    chosen = desired_for_pair(store, APP, ClusterName("eu-1"))
    bundle = store.get_bundle(chosen.digest) if chosen else None
    assert bundle is not None
    assert [o["metadata"]["name"] for o in bundle.objects] == ["settings"]


def test_manifests_that_name_no_cluster_variable_give_every_cluster_the_one_render(
    redis_url: str, tmp_path: Path, git_repo: WorkRepo, git_server: GitServer
) -> None:
    plain = SETTINGS.replace("${cluster.values.region}", "eu").replace("$${HOME}", "home")
    git_repo.write("apps/web/settings.yaml", plain.replace("${cluster.labels.tier:=standard}", "a"))
    git_repo.commit("web")
    store = Store.connect(redis_url)
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    outcome = _sync(store, _fleet(url, _clusters(REGIONS)), tmp_path)
    assert outcome.failed == {} and store.stats().get("variant_render", 0) == 0
    chosen = desired_for_pairs(store, APP, [ClusterName(c) for c in REGIONS])
    assert len({d.digest for d in chosen.values() if d is not None}) == 1
    assert _data(store, "us-2") == {"region": "eu", "tier": "a", "script": "echo home"}


def test_a_render_s_warnings_are_kept_with_its_desired_state(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    repo.write("apps/web/notes.yaml", "owner: platform-team\n")
    repo.commit("a file that is not a Kubernetes object")
    _sync(store, _fleet(url, _clusters(REGIONS), _app(substitute=False)), tmp_path)
    desired = store.desired(APP)
    assert desired is not None
    assert desired.warnings == (
        "apps/web/notes.yaml: not a Kubernetes object (no apiVersion or kind): skipped",
    )


def test_a_poll_of_an_unmoved_repository_needs_no_fetch_and_a_removed_one_fetches_nothing(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    fleet = _fleet(url, _clusters(REGIONS))
    _sync(store, fleet, tmp_path)
    again = poll_repository(store, fleet, RepoName("platform"))
    assert (again.error, again.fetch_needed) == (None, False)
    renders = store.stats()["render"]

    gone = replace(fleet, repositories={}, applications={})
    assert _fetch(store, gone, tmp_path, force=True) == FetchOutcome()
    assert store.stats()["render"] == renders


def test_a_change_to_one_region_s_values_moves_only_that_region(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    _sync(store, _fleet(url, _clusters(REGIONS)), tmp_path)
    us_before = desired_for_pair(store, APP, ClusterName("us-1"))

    moved = {**REGIONS, "eu-1": "eu-west", "eu-2": "eu-west"}
    outcome = _sync(store, _fleet(url, _clusters(moved)), tmp_path, force=True)
    assert outcome.changed == {APP: ("eu-1", "eu-2")}
    stats = store.stats()
    assert (stats["render"], stats["render_cache_hit"], stats["variant_render"]) == (1, 1, 3)
    assert _data(store, "eu-2")["region"] == "eu-west"
    assert desired_for_pair(store, APP, ClusterName("us-1")) == us_before

    again = _sync(store, _fleet(url, _clusters(moved)), tmp_path, force=True)
    assert again.changed == {}
    assert store.stats()["variant_render"] == 3  # every variant came from the cache


def test_a_commit_re_renders_once_and_moves_every_cluster_at_the_new_revision(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    fleet = _fleet(url, _clusters(REGIONS))
    _sync(store, fleet, tmp_path)
    repo.write("apps/web/settings.yaml", SETTINGS.replace("echo", "printf"))
    sha = repo.commit("printf")
    outcome = _sync(store, fleet, tmp_path)
    assert outcome.changed == {APP: ("eu-1", "eu-2", "us-1", "us-2")}
    assert (store.stats()["render"], store.stats()["variant_render"]) == (2, 4)
    chosen = desired_for_pair(store, APP, ClusterName("us-1"))
    assert chosen is not None and chosen.revision.sha == sha
    assert _data(store, "us-1")["script"] == "printf ${HOME}"


def test_a_cluster_missing_a_value_keeps_what_it_had_and_the_others_carry_on(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    fleet = _fleet(url, _clusters(REGIONS))
    _sync(store, fleet, tmp_path)
    eu_before = desired_for_pair(store, APP, ClusterName("eu-1"))
    repo.write("apps/web/settings.yaml", SETTINGS + '  zone: "${cluster.values.zone}"\n')
    sha = repo.commit("zone")
    with_zone = _clusters(REGIONS, **{c: {"zone": "z1"} for c in ("eu-2", "us-1", "us-2")})
    outcome = _sync(store, replace(fleet, clusters=with_zone), tmp_path)

    # eu-1 is named too: its record now carries the error its pair's status shows.
    assert outcome.changed == {APP: ("eu-1", "eu-2", "us-1", "us-2")}
    kept = desired_for_pair(store, APP, ClusterName("eu-1"))
    assert eu_before is not None and kept is not None
    assert (kept.revision, kept.digest) == (eu_before.revision, eu_before.digest)
    error = store.source_error(APP)
    assert error is not None
    for words in (
        "web: cluster 'eu-1'",
        "core/ConfigMap/web/settings.data.zone",
        "cluster.values.zone is not defined",
        "in apps/web/settings.yaml, rendered from platform:apps/web",
    ):
        assert words in error.message
        assert words in kept.render_error
    assert kept.render_error.startswith(f"the render of main@sha1:{sha}")
    assert _data(store, "eu-2")["zone"] == "z1"
    others = desired_for_pair(store, APP, ClusterName("us-1"))
    assert others is not None and others.render_error == "" and others.revision.sha == sha

    # The same failure again moves nothing; defining the value clears it and moves eu-1 only.
    again = _sync(store, replace(fleet, clusters=with_zone), tmp_path, force=True)
    assert again.changed == {}
    everyone = _clusters(REGIONS, **{c: {"zone": "z1"} for c in REGIONS})
    fixed = _sync(store, replace(fleet, clusters=everyone), tmp_path, force=True)
    assert fixed.changed == {APP: ("eu-1",)}
    now = desired_for_pair(store, APP, ClusterName("eu-1"))
    assert now is not None and now.render_error == "" and now.revision.sha == sha
    assert store.source_error(APP) is None


def test_the_application_s_error_is_its_first_failing_cluster_s_and_counts_the_others(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    repo.write("apps/web/settings.yaml", SETTINGS + '  zone: "${cluster.values.zone}"\n')
    repo.commit("zone")
    with_zone = _clusters(REGIONS, **{c: {"zone": "z1"} for c in ("us-1", "us-2")})
    outcome = _sync(store, _fleet(url, with_zone), tmp_path)
    error = store.source_error(APP)
    assert error is not None and outcome.failed[APP] == error.message
    assert error.message.startswith("web: cluster 'eu-1'") and "eu-2" not in error.message
    assert error.message.endswith(" (and 1 more cluster(s))")


def test_a_cluster_that_never_rendered_records_its_error_without_a_bundle(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    clusters = _clusters(REGIONS)
    clusters[ClusterName("eu-1")] = replace(clusters[ClusterName("eu-1")], values={})
    outcome = _sync(store, _fleet(url, clusters), tmp_path)
    assert outcome.changed == {APP: ("eu-1", "eu-2", "us-1", "us-2")}
    assert desired_for_pair(store, APP, ClusterName("eu-1")) is None
    record = store.variant(APP, ClusterName("eu-1"))
    assert record is not None and record.digest == "" and record.failed is not None
    assert "cluster.values.region is not defined" in record.failed.message


def test_an_unknown_variable_in_the_output_fails_the_render_and_keeps_the_last_good_state(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    fleet = _fleet(url, _clusters(REGIONS))
    _sync(store, fleet, tmp_path)
    before = store.desired(APP)
    repo.write("apps/web/settings.yaml", SETTINGS + '  home: "${HOME}"\n')
    repo.commit("unescaped")
    outcome = _sync(store, fleet, tmp_path)
    assert "${HOME} is not a variable" in outcome.failed[APP]
    assert "$${HOME}" in outcome.failed[APP] and "platform:apps/web" in outcome.failed[APP]
    assert "(in apps/web/settings.yaml)" in outcome.failed[APP]
    assert store.desired(APP) == before


CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "values.yaml": "region: none\nreplicas: 1\n",
    "templates/cm.yaml": textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data:
          region: {{ .Values.region | quote }}
          replicas: {{ .Values.replicas | quote }}
        """),
}


def test_helm_values_with_cluster_variables_render_once_per_distinct_value(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    for name, text in CHART.items():
        repo.write(f"charts/web/{name}", text)
    repo.commit("chart")
    app = _helm_app(
        helm=HelmOptions(
            values={"region": "${cluster.values.region}", "replicas": "${cluster.values.n:=2}"}
        ),
    )
    outcome = _sync(store, _fleet(url, _clusters(REGIONS), app), tmp_path)
    assert outcome.failed == {}
    assert store.stats()["render"] == 2
    assert {c: _data(store, c) for c in REGIONS} == {
        c: {"region": region, "replicas": "2"} for c, region in REGIONS.items()
    }


DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api}
    spec:
      replicas: 1
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec:
          containers:
            - {name: api, image: "api:1", env: [{name: REGION, value: "${cluster.values.region}"}]}
    """)


SETTINGS_SERVICE = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {name: settings}
    spec:
      ports: [{port: 80}]
    """)


def _objects(store: Store, cluster: str) -> dict[str, Any]:
    chosen = desired_for_pair(store, APP, ClusterName(cluster))
    assert chosen is not None
    bundle = store.get_bundle(chosen.digest)
    assert bundle is not None
    return {o["kind"]: o for o in bundle.objects}


BIG = Override(
    name="big",
    selector=Selector(match_labels={"size": "big"}),
    patches=(
        Patch(PatchTarget("Deployment", "api"), {"spec": {"replicas": 5}}),
        Patch(
            PatchTarget("ConfigMap", "settings"),
            [{"op": "add", "path": "/data/size", "value": "big-${cluster.name}"}],
        ),
    ),
)


def test_overrides_patch_and_redirect_only_the_clusters_their_selectors_pick(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    repo.write("apps/web/api.yaml", DEPLOYMENT)
    # A Service named as the patched ConfigMap: a patch targets a kind and a name.
    repo.write("apps/web/settings-service.yaml", SETTINGS_SERVICE)
    repo.write("apps/web-us/settings.yaml", SETTINGS.replace("region:", "continent:"))
    repo.commit("api and a us overlay")
    us = Override(name="us", selector=Selector(match_labels={"region": "us"}), path="apps/web-us")
    outcome = _sync(
        store, _fleet(url, _labelled(_clusters(REGIONS)), _app(overrides=(BIG, us))), tmp_path
    )
    assert outcome.failed == {}

    eu1, eu2, us1 = _objects(store, "eu-1"), _objects(store, "eu-2"), _objects(store, "us-1")
    assert eu1["Deployment"]["spec"]["replicas"] == 1 and "size" not in eu1["ConfigMap"]["data"]
    assert eu2["Deployment"]["spec"]["replicas"] == 5
    assert eu2["Service"] == eu1["Service"] and "data" not in eu2["Service"]
    assert eu2["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "REGION", "value": "eu"}
    ]
    assert eu2["ConfigMap"]["data"]["size"] == "big-eu-2"  # patched, then substituted
    assert set(us1) == {"ConfigMap"} and us1["ConfigMap"]["data"]["continent"] == "us"
    assert store.stats()["render"] == 2  # apps/web once, apps/web-us once
    assert store.stats()["patch_render"] == 1


def test_a_patch_of_an_object_the_application_does_not_render_is_an_error_naming_it(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    wrong = Override(
        name="wrong",
        selector=Selector(),
        patches=(Patch(PatchTarget("Deployment", "nowhere"), {"spec": {"replicas": 2}}),),
    )
    outcome = _sync(store, _fleet(url, _clusters(REGIONS), _app(overrides=(wrong,))), tmp_path)
    message = outcome.failed[APP]
    assert "override 'wrong': patch target Deployment/nowhere is not among" in message
    assert store.desired(APP) is None


def test_a_rollout_holds_each_cluster_not_reached_on_its_own_previous_bundle(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    fleet = _fleet(url, _clusters(REGIONS))
    app = replace(
        fleet.applications[APP],
        rollout=RolloutPolicy(waves=(WaveSpec(name="canary", clusters=(ClusterName("eu-1"),)),)),
    )
    fleet = replace(fleet, applications={APP: app})
    _sync(store, fleet, tmp_path)
    before = desired_for_pairs(store, APP, [ClusterName(c) for c in REGIONS])
    repo.write("apps/web/settings.yaml", SETTINGS.replace("echo", "printf"))
    repo.commit("printf")
    _sync(store, fleet, tmp_path)

    canary = desired_for_pair(store, APP, ClusterName("eu-1"))
    assert canary is not None and canary.because is Because.GIT
    assert _data(store, "eu-1")["script"] == "printf ${HOME}"
    for cluster in ("eu-2", "us-1", "us-2"):
        held = desired_for_pair(store, APP, ClusterName(cluster))
        assert held is not None and held.because is Because.HELD
        assert held.digest == before[ClusterName(cluster)].digest  # type: ignore[union-attr]
    assert _data(store, "us-1") == {"region": "us", "tier": "standard", "script": "echo ${HOME}"}


def test_a_render_waiting_for_a_pinned_rollout_holds_back_no_other_application(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    web = _app(substitute=False)  # one desired state for every cluster
    fleet = _fleet(url, _clusters(REGIONS), web)
    canary = RolloutPolicy(waves=(WaveSpec(name="canary", clusters=(ClusterName("eu-1"),)),))
    first = replace(web, name=AppName("first"), rollout=canary)
    fleet = replace(fleet, applications={first.name: first, APP: web})
    _sync(store, fleet, tmp_path)
    repo.write("apps/web/settings.yaml", SETTINGS.replace("echo", "printf"))
    repo.commit("printf")
    _sync(store, fleet, tmp_path)
    running = store.rollout(first.name)
    assert running is not None
    store.save_rollout(
        planner.pin(running, "watching", store.now()), expected=running.version, next_check=1.0
    )
    repo.write("apps/web/settings.yaml", SETTINGS.replace("echo", "print"))
    sha = repo.commit("print")

    outcome = _sync(store, fleet, tmp_path)

    assert APP in outcome.changed and first.name not in outcome.changed
    moved = store.desired(APP)
    assert moved is not None and moved.revision.sha == sha
    held = store.desired(first.name)
    assert held is not None and held.revision.sha != sha


def test_a_substitution_that_outgrows_the_output_bound_is_an_error_and_nothing_is_lost(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    _, url = served
    huge = {c: {"region": "x" * 5000} for c in ("us-1",)}
    fleet = _fleet(url, _clusters(REGIONS, **huge))
    outcome = _sync(store, fleet, tmp_path, limits=RenderLimits(max_output_bytes=4096))
    assert "render output exceeded its" in outcome.failed[APP]
    assert "after substitution" in outcome.failed[APP]
    assert store.desired(APP) is None  # nothing half-written


def test_overrides_give_helm_values_and_values_files_to_the_clusters_they_pick(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    for name, text in {**CHART, "values-us.yaml": "replicas: 5\n"}.items():
        repo.write(f"charts/web/{name}", text)
    repo.commit("chart")
    app = _helm_app(
        helm=HelmOptions(values={"region": "${cluster.values.region}"}),
        overrides=(
            Override(
                name="us-file",
                selector=Selector(match_labels={"region": "us"}),
                helm=HelmOptions(values_files=("values-us.yaml",)),
            ),
            Override(
                name="big",
                selector=Selector(match_labels={"size": "big"}),
                helm=HelmOptions(values={"replicas": 7}),
            ),
        ),
    )
    outcome = _sync(store, _fleet(url, _labelled(_clusters(REGIONS)), app), tmp_path)
    assert outcome.failed == {}
    assert store.stats()["render"] == 3
    assert {c: _data(store, c) for c in REGIONS} == {
        "eu-1": {"region": "eu", "replicas": "1"},
        "eu-2": {"region": "eu", "replicas": "7"},  # big: its values
        "us-1": {"region": "us", "replicas": "5"},  # us: values-us.yaml
        "us-2": {"region": "us", "replicas": "5"},
    }


def test_a_helm_template_s_unresolved_variable_names_its_file_in_the_repository(
    redis_url: str, tmp_path: Path, served: tuple[WorkRepo, str]
) -> None:
    store = Store.connect(redis_url)
    repo, url = served
    for name, text in CHART.items():
        repo.write(f"charts/web/{name}", text)
    repo.write(
        "charts/web/templates/zone.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: zone}\n"
        'data: {zone: "${cluster.values.zone}"}\n',
    )
    repo.commit("chart")
    app = Application(
        name=APP,
        repository=RepoName("platform"),
        path="charts/web",
        namespace="web",
        renderer=RendererKind.HELM,
        substitute=True,
        targets=Targets(selector=Selector(match_labels={"env": "prod"})),
    )
    zoned = _clusters(REGIONS, **{c: {"zone": "z"} for c in ("eu-2", "us-1", "us-2")})
    _sync(store, _fleet(url, zoned, app), tmp_path)
    failed = store.variant(APP, ClusterName("eu-1"))
    assert failed is not None and failed.failed is not None
    assert "core/ConfigMap/web/zone.data.zone: ${cluster.values.zone}" in failed.failed.message
    assert "(in charts/web/templates/zone.yaml, rendered from platform:charts/web)" in (
        failed.failed.message
    )
    us = desired_for_pair(store, APP, ClusterName("us-1"))
    assert us is not None
    bundle = store.get_bundle(us.digest)
    assert bundle is not None and "charts/web/templates/zone.yaml" in bundle.sources
    assert all("templates" not in str(o) for o in bundle.objects)  # never in what is applied
