"""fleet.yaml -> Fleet: every rule of the declaration, each error named by file, line and key."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from textwrap import dedent, indent

import pytest

from fleetsync.shared.fleet import (
    FleetError,
    FleetFileError,
    FleetIssue,
    check_fleet,
    display_url,
    fleet_digest,
    format_duration,
    load_fleet,
    parse_fleet,
)
from fleetsync.shared.model.declaration import (
    Credentials,
    DirectoryOptions,
    Fleet,
    JsonnetOptions,
    JsonnetVar,
    RendererKind,
    ReplacePolicy,
    SelectorOperator,
    SelectorRequirement,
)

BASE = Path("/srv/fleet")

# Lines 1-14; an application's own extra keys (see `with_app`) start at line 15.
HEADER = """\
repositories:
  - name: platform
    url: https://git.example.com/platform.git
clusters:
  - name: prod-eu-1
    kubeconfig: /kube/prod-eu-1.yaml
    labels: {env: prod, region: eu}
  - name: prod-us-1
    kubeconfig: /kube/prod-us-1.yaml
    labels: {env: prod, region: us}
applications:
  - name: web
    repository: platform
    path: apps/web
"""


def with_app(extra: str) -> str:
    """HEADER plus keys of applications[0] ('web'), the first of them at line 15."""
    return HEADER + indent(dedent(extra), "    ")


def parse(text: str) -> Fleet:
    return parse_fleet(dedent(text), source="fleet.yaml", base_dir=BASE)


def errors_of(text: str) -> tuple[FleetIssue, ...]:
    with pytest.raises(FleetError) as caught:
        parse(text)
    return caught.value.issues


def the_error(text: str) -> FleetIssue:
    issues = errors_of(text)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(dedent(text))
    return path


# --- a valid declaration -------------------------------------------------------------------


CONTRACT = """\
repositories:
  - name: platform
    url: https://git.example.com/platform.git
    ref: main
    interval: 60s
    credentials: {username_env: GIT_USER, password_env: GIT_TOKEN}
clusters:
  - name: prod-eu-1
    kubeconfig: /etc/fleetsync/kubeconfigs/prod-eu-1.yaml
    context: prod-eu-1
    labels: {env: prod, region: eu}
applications:
  - name: guestbook
    repository: platform
    path: apps/guestbook
    namespace: guestbook
    renderer: auto
    helm: {release: guestbook, values: {replicaCount: 2}, valuesFiles: [values-prod.yaml]}
    targets:
      clusters: [prod-eu-1]
      selector: {matchLabels: {env: prod}, matchExpressions: [{key: region, operator: In, values: [eu]}]}
    sync: {automated: false, prune: false, selfHeal: false, driftInterval: 5m, forceConflicts: false, allowEmpty: true, pruneOnRemoval: true}
"""  # noqa: E501


def test_the_contract_example_parses_into_typed_values() -> None:
    fleet = parse(CONTRACT)
    repo = fleet.repositories["platform"]
    assert (repo.url, repo.ref, repo.interval) == (
        "https://git.example.com/platform.git",
        "main",
        60,
    )
    assert repo.credentials == Credentials(username_env="GIT_USER", password_env="GIT_TOKEN")
    cluster = fleet.clusters["prod-eu-1"]
    assert cluster.kubeconfig == "/etc/fleetsync/kubeconfigs/prod-eu-1.yaml"
    assert (cluster.context, dict(cluster.labels)) == ("prod-eu-1", {"env": "prod", "region": "eu"})
    app = fleet.applications["guestbook"]
    assert (app.repository, app.path, app.namespace) == ("platform", "apps/guestbook", "guestbook")
    assert app.renderer is RendererKind.AUTO
    assert app.helm.release == "guestbook"
    assert dict(app.helm.values) == {"replicaCount": 2}
    assert app.helm.values_files == ("values-prod.yaml",)
    assert app.targets.clusters == ("prod-eu-1",)
    assert app.targets.selector is not None
    assert dict(app.targets.selector.match_labels) == {"env": "prod"}
    assert app.targets.selector.match_expressions == (
        SelectorRequirement(key="region", operator=SelectorOperator.IN, values=("eu",)),
    )
    sync = app.sync
    assert (sync.automated, sync.prune, sync.self_heal, sync.force_conflicts) == (False,) * 4
    assert (sync.allow_empty, sync.prune_on_removal, sync.drift_interval) == (True, True, 300)
    assert fleet.targets_of(app.name) == ("prod-eu-1",)


def test_omitted_optional_keys_take_the_model_defaults() -> None:
    app = parse(HEADER).applications["web"]
    repo = parse(HEADER).repositories["platform"]
    assert (repo.ref, repo.interval, repo.credentials) == ("main", 60.0, None)
    assert (app.renderer, app.namespace, app.sync.drift_interval) == (RendererKind.AUTO, None, 300)


def test_an_empty_mapping_is_an_empty_valid_fleet_and_sections_may_be_absent_or_empty() -> None:
    assert parse("{}") == Fleet()
    assert parse("clusters: []\napplications:\n") == Fleet()


def test_parsed_fleet_survives_the_json_round_trip() -> None:
    fleet = parse(CONTRACT)
    assert Fleet.from_json(json.loads(json.dumps(fleet.to_json()))) == fleet
    apply_options = "sync: {createNamespace: true, replace: onImmutable, waveTimeout: 2m}\n"
    fleet = parse(with_app(apply_options))
    assert Fleet.from_json(json.loads(json.dumps(fleet.to_json()))) == fleet


def test_a_cluster_is_watched_for_drift_unless_declared_watch_false() -> None:
    text = HEADER.replace(
        "    labels: {env: prod, region: us}\n",
        "    labels: {env: prod, region: us}\n    watch: false\n",
    )
    fleet = parse(text)
    assert fleet.clusters["prod-eu-1"].watch is True
    assert fleet.clusters["prod-us-1"].watch is False
    assert fleet.unwatched() == {"prod-us-1"}
    assert Fleet.from_json(json.loads(json.dumps(fleet.to_json()))) == fleet
    assert fleet_digest(fleet) != fleet_digest(parse(HEADER))
    assert parse(HEADER).unwatched() == frozenset()


def test_apply_options_parse_and_default_to_the_cautious_choice() -> None:
    text = "sync: {createNamespace: true, replace: onImmutable, waveTimeout: 2m}\n"
    sync = parse(with_app(text)).applications["web"].sync
    assert (sync.create_namespace, sync.replace, sync.wave_timeout) == (
        True,
        ReplacePolicy.ON_IMMUTABLE,
        120,
    )
    default = parse(HEADER).applications["web"].sync
    assert (default.create_namespace, default.replace, default.wave_timeout) == (
        False,
        ReplacePolicy.NEVER,
        600,
    )


def test_an_unknown_replace_policy_is_named_with_the_choices() -> None:
    issue = the_error(with_app("sync: {replace: always}\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].sync.replace")
    assert "'always' is not one of never, onImmutable" in issue.message


def test_digest_is_equal_for_equal_declarations_and_changes_with_any_value() -> None:
    reordered = CONTRACT.replace("{env: prod, region: eu}", "{region: eu, env: prod}")
    assert fleet_digest(parse(CONTRACT)) == fleet_digest(parse(reordered))
    assert len(fleet_digest(parse(CONTRACT))) == 64
    changed = CONTRACT.replace("replicaCount: 2", "replicaCount: 3")
    assert fleet_digest(parse(CONTRACT)) != fleet_digest(parse(changed))


def test_issue_prints_as_file_line_key_and_message() -> None:
    issue = FleetIssue("fleet.yaml", 12, "applications[0].targets.clusters[1]", "not declared")
    assert str(issue) == "fleet.yaml:12: applications[0].targets.clusters[1]: not declared"
    assert str(FleetIssue("fleet.yaml", None, "", "the file is empty")) == (
        "fleet.yaml: the file is empty"
    )


# --- the file as a whole -------------------------------------------------------------------


def test_an_empty_file_is_an_error() -> None:
    issue = the_error("# nothing but a comment\n")
    assert "the file is empty" in issue.message


def test_a_top_level_that_is_not_a_mapping_is_an_error_at_its_line() -> None:
    issue = the_error("\n- name: platform\n")
    assert (issue.line, issue.key_path) == (2, "")
    assert "top level must be a mapping" in issue.message


def test_a_yaml_syntax_error_names_line_and_column() -> None:
    issue = the_error("repositories:\n  - name: a\n   url: b\n")
    assert issue.line == 3
    assert "invalid YAML at line 3, column" in issue.message


def test_a_yaml_syntax_error_does_not_quote_the_offending_line() -> None:
    text = "repositories:\n  - credentials: {password_env: hunter2hunter2\n"
    issue = the_error(text)
    assert "hunter2" not in str(issue)


def test_unknown_key_is_an_error_suggesting_the_close_one() -> None:
    issue = the_error(HEADER.replace("platform.git", "platform.git\n    intervall: 60s"))
    assert (issue.line, issue.key_path) == (4, "repositories[0].intervall")
    assert issue.message == "unknown key 'intervall'; did you mean 'interval'?"


def test_snake_case_sync_key_suggests_the_camel_case_one() -> None:
    issue = the_error(with_app("sync: {self_heal: true}\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].sync.self_heal")
    assert "did you mean 'selfHeal'?" in issue.message


def test_unknown_key_far_from_any_lists_the_allowed_keys() -> None:
    issue = the_error("replicas: 3\n")
    assert (issue.line, issue.key_path) == (1, "replicas")
    assert "allowed keys: repositories, clusters, applications" in issue.message


def test_missing_required_keys_are_each_reported_at_their_entry() -> None:
    issues = errors_of(
        """\
        repositories:
          - name: platform
        clusters:
          - kubeconfig: /kube/a.yaml
        applications:
          - name: web
            repository: platform
        """
    )
    assert [(i.line, i.key_path, i.message) for i in issues] == [
        (2, "repositories[0]", "missing required key 'url'"),
        (4, "clusters[0]", "missing required key 'name'"),
        (6, "applications[0]", "missing required key 'path'"),
    ]


def test_a_required_key_without_a_value_is_an_error_at_that_key() -> None:
    issue = the_error("clusters:\n  - name: a\n    kubeconfig:\n")
    assert (issue.line, issue.key_path, issue.message) == (
        3,
        "clusters[0].kubeconfig",
        "needs a value",
    )


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    issues = errors_of(
        with_app(
            """\
            namespace: Web
            renderer: cue
            targets: {clusters: [prod-xx]}
            """
        )
    )
    assert [(i.line, i.key_path) for i in issues] == [
        (15, "applications[0].namespace"),
        (16, "applications[0].renderer"),
        (17, "applications[0].targets.clusters[0]"),
    ]


def test_a_section_that_is_not_a_list_is_an_error() -> None:
    issue = the_error("clusters: {name: a}\n")
    assert (issue.line, issue.key_path, issue.message) == (
        1,
        "clusters",
        "must be a list, not a mapping",
    )


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Prod", "prod_eu", "-prod", "a" * 64])
def test_a_name_that_is_not_a_dns_label_is_an_error(name: str) -> None:
    issue = the_error(HEADER.replace("name: prod-us-1", f"name: {name}"))
    assert (issue.line, issue.key_path) == (8, "clusters[1].name")
    assert "is not a valid name" in issue.message


def test_a_duplicate_name_names_the_line_of_the_first_one() -> None:
    issue = the_error(HEADER.replace("name: prod-us-1", "name: prod-eu-1"))
    assert (issue.line, issue.key_path) == (8, "clusters[1].name")
    assert issue.message == "'prod-eu-1' is already declared in clusters at line 5"


def test_a_duplicate_yaml_key_names_the_line_of_the_first_one() -> None:
    issue = the_error(with_app("path: apps/other\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].path")
    assert issue.message == "duplicate key (first at line 14)"


# --- references ----------------------------------------------------------------------------


def test_application_naming_an_undeclared_repository_lists_the_declared_ones() -> None:
    issue = the_error(HEADER.replace("repository: platform", "repository: platfrom"))
    assert (issue.line, issue.key_path) == (13, "applications[0].repository")
    assert issue.message == (
        "repository 'platfrom' is not declared; declared repositories: platform; "
        "did you mean 'platform'?"
    )


def test_application_naming_an_undeclared_cluster_is_an_error_naming_the_line() -> None:
    issue = the_error(with_app("targets:\n  clusters: [prod-eu-1, prod-x]\n"))
    assert (issue.line, issue.key_path) == (16, "applications[0].targets.clusters[1]")
    assert str(issue) == (
        "fleet.yaml:16: applications[0].targets.clusters[1]: cluster 'prod-x' is not declared; "
        "declared clusters: prod-eu-1, prod-us-1"
    )


def test_a_reference_to_a_cluster_whose_entry_has_errors_is_not_also_an_error() -> None:
    issue = the_error(
        with_app("targets: {clusters: [prod-us-1]}\n").replace(
            "labels: {env: prod, region: us}", "labels: {env: 'not valid'}"
        )
    )
    assert issue.key_path == "clusters[1].labels.env"


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("90", 90), ("'90'", 90), ("2h", 7200)],
)
def test_durations_are_seconds_or_hours_minutes_seconds(written: str, seconds: float) -> None:
    fleet = parse(HEADER.replace("platform.git", f"platform.git\n    interval: {written}"))
    assert fleet.repositories["platform"].interval == seconds


def test_a_bad_duration_says_which_format_is_accepted() -> None:
    issue = the_error(with_app("sync: {driftInterval: 5 minutes}\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].sync.driftInterval")
    assert issue.message == (
        "'5 minutes' is not a duration; write seconds (90) or hours, minutes, seconds "
        "(30s, 5m, 1h30m)"
    )


def test_a_watched_pairs_backstop_is_an_hour_or_watched_drift_interval_never_below_drift() -> None:
    default = parse(with_app("sync: {driftInterval: 5m}\n")).applications["web"].sync
    assert (default.drift_every(watched=False), default.drift_every(watched=True)) == (300, 3600)
    longer = parse(with_app("sync: {driftInterval: 2h}\n")).applications["web"].sync
    assert longer.drift_every(watched=True) == 7200
    chosen = with_app("sync: {driftInterval: 1m, watchedDriftInterval: 30m}\n")
    sync = parse(chosen).applications["web"].sync
    assert (sync.drift_every(watched=False), sync.drift_every(watched=True)) == (60, 1800)
    issue = the_error(with_app("sync: {driftInterval: 10m, watchedDriftInterval: 5m}\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].sync.watchedDriftInterval")
    assert issue.message == (
        "5m is shorter than driftInterval (10m): a pair live watches cover is checked no "
        "more often than one they do not; drop it or make it longer"
    )


@pytest.mark.parametrize("written", ["0s", "0"])
def test_an_interval_under_one_second_is_an_error(written: str) -> None:
    issue = the_error(HEADER.replace("platform.git", f"platform.git\n    interval: {written}"))
    assert (issue.line, issue.key_path, issue.message) == (
        4,
        "repositories[0].interval",
        "must be at least 1s",
    )


# --- labels and selectors ------------------------------------------------------------------


def test_an_invalid_label_key_is_an_error() -> None:
    issue = the_error(HEADER.replace("{env: prod, region: eu}", "{'Env Name': prod}"))
    assert (issue.line, issue.key_path) == (7, 'clusters[0].labels["Env Name"]')
    assert "is not a valid label key" in issue.message


def test_a_prefixed_label_key_is_valid() -> None:
    text = HEADER.replace("{env: prod, region: eu}", "{app.kubernetes.io/part-of: shop}")
    labels = parse(text).clusters["prod-eu-1"].labels
    assert dict(labels) == {"app.kubernetes.io/part-of": "shop"}


def test_an_invalid_match_labels_value_is_an_error() -> None:
    issue = the_error(with_app("targets:\n  selector: {matchLabels: {env: 'prod eu'}}\n"))
    assert (issue.line, issue.key_path) == (16, "applications[0].targets.selector.matchLabels.env")
    assert "is not a valid label value" in issue.message


def test_a_label_value_yaml_reads_as_a_number_keeps_its_written_text() -> None:
    text = HEADER.replace("{env: prod, region: eu}", "{version: 1.10, tier: 2}")
    assert dict(parse(text).clusters["prod-eu-1"].labels) == {"version": "1.10", "tier": "2"}


@pytest.mark.parametrize("operator", ["In", "NotIn"])
def test_in_and_not_in_need_values(operator: str) -> None:
    issue = the_error(
        with_app(
            "targets:\n  selector:\n    matchExpressions:\n"
            f"      - {{key: env, operator: {operator}}}\n"
        )
    )
    assert (issue.line, issue.key_path) == (
        18,
        "applications[0].targets.selector.matchExpressions[0]",
    )
    assert issue.message == f"operator {operator} needs at least one value in 'values'"


@pytest.mark.parametrize("operator", ["Exists", "DoesNotExist"])
def test_exists_and_does_not_exist_take_no_values(operator: str) -> None:
    issue = the_error(
        with_app(
            "targets:\n  selector:\n    matchExpressions:\n"
            f"      - key: env\n        operator: {operator}\n        values: [prod]\n"
        )
    )
    path = "applications[0].targets.selector.matchExpressions[0].values"
    assert (issue.line, issue.key_path) == (20, path)
    assert issue.message == f"operator {operator} takes no values"


def test_an_unknown_operator_is_an_error_suggesting_the_right_spelling() -> None:
    issue = the_error(
        with_app(
            "targets:\n  selector:\n    matchExpressions: [{key: env, operator: in, values: [a]}]\n"
        )
    )
    assert (issue.line, issue.key_path) == (
        17,
        "applications[0].targets.selector.matchExpressions[0].operator",
    )
    assert issue.message == "'in' is not one of In, NotIn, Exists, DoesNotExist; did you mean 'In'?"


def test_a_selector_resolves_targets_with_expressions_and_names_together() -> None:
    fleet = parse(
        with_app(
            """\
            targets:
              clusters: [prod-us-1]
              selector:
                matchExpressions: [{key: region, operator: NotIn, values: [us]}]
            """
        )
    )
    assert fleet.targets_of(fleet.applications["web"].name) == ("prod-eu-1", "prod-us-1")


# --- application path, namespace, renderer, helm -------------------------------------------


def test_an_absolute_application_path_is_an_error() -> None:
    issue = the_error(HEADER.replace("path: apps/web", "path: /apps/web"))
    assert (issue.line, issue.key_path) == (14, "applications[0].path")
    assert issue.message == "must be relative to the repository root, not absolute"


def test_an_application_path_with_dot_dot_is_an_error() -> None:
    issue = the_error(HEADER.replace("path: apps/web", "path: apps/../../etc"))
    assert (issue.line, issue.key_path) == (14, "applications[0].path")
    assert "must not contain '..'" in issue.message


def test_an_application_path_that_is_not_normalised_shows_the_normal_form() -> None:
    issue = the_error(HEADER.replace("path: apps/web", "path: ./apps//web/"))
    assert (issue.line, issue.key_path) == (14, "applications[0].path")
    assert issue.message == "is not normalised; write 'apps/web'"


def test_a_namespace_that_is_not_a_dns_label_is_an_error() -> None:
    issue = the_error(with_app("namespace: My_Namespace\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].namespace")
    assert "is not a valid namespace" in issue.message


def test_a_renderer_outside_the_enum_is_an_error() -> None:
    issue = the_error(with_app("renderer: Helm\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].renderer")
    assert (
        issue.message
        == "'Helm' is not one of auto, plain, kustomize, helm, jsonnet; did you mean 'helm'?"
    )


@pytest.mark.parametrize("renderer", ["plain", "kustomize"])
def test_helm_options_with_a_renderer_other_than_helm_or_auto_are_an_error(renderer: str) -> None:
    issue = the_error(with_app(f"renderer: {renderer}\nhelm: {{release: web}}\n"))
    assert (issue.line, issue.key_path) == (16, "applications[0].helm")
    assert issue.message == f"applies only to renderer helm or auto, not {renderer}"


def test_a_helm_values_file_leaving_the_repository_is_an_error() -> None:
    issue = the_error(with_app("helm:\n  valuesFiles: [../prod.yaml, ../../../prod.yaml]\n"))
    assert (issue.line, issue.key_path) == (16, "applications[0].helm.valuesFiles[1]")
    assert "leaves the repository" in issue.message


def test_helm_values_keep_timestamps_as_strings_and_refuse_non_json_values() -> None:
    fleet = parse(with_app("helm:\n  values: {since: 2024-01-01, nested: {list: [1, two]}}\n"))
    assert dict(fleet.applications["web"].helm.values) == {
        "since": "2024-01-01",
        "nested": {"list": [1, "two"]},
    }
    issue = the_error(with_app("helm:\n  values:\n    blob: !!binary aGVsbG8=\n"))
    assert (issue.line, issue.key_path) == (17, "applications[0].helm.values.blob")


def test_anchors_and_merge_keys_are_followed() -> None:
    fleet = parse(
        HEADER
        + """\
    sync: &quiet {automated: false, driftInterval: 1h}
  - name: api
    repository: platform
    path: apps/api
    sync:
      <<: *quiet
      driftInterval: 10m
"""
    )
    assert fleet.applications["web"].sync.automated is False
    api = fleet.applications["api"].sync
    assert (api.automated, api.drift_interval) == (False, 600)


def test_an_anchor_with_a_merge_and_an_override_can_be_reused_by_alias() -> None:
    fleet = parse(
        HEADER
        + """\
    sync: &base {prune: false}
  - name: api
    repository: platform
    path: apps/api
    sync: &policy {<<: *base, prune: true}
  - name: jobs
    repository: platform
    path: apps/jobs
    sync: *policy
"""
    )
    prunes = {name: app.sync.prune for name, app in fleet.applications.items()}
    assert prunes == {"web": False, "api": True, "jobs": True}


# --- repositories: url, ref, credentials ---------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/a.git",
        "http://git.example.com/a.git",
        "ssh://git@git.example.com:2222/a.git",
        "git://git.example.com/a.git",
        "file:///srv/git/a.git",
        "git@github.com:org/a.git",
        "/srv/git/a",
    ],
)
def test_the_accepted_url_forms(url: str) -> None:
    fleet = parse(HEADER.replace("https://git.example.com/platform.git", url))
    assert fleet.repositories["platform"].url == url


def test_a_url_scheme_outside_the_accepted_ones_is_an_error() -> None:
    issue = the_error(HEADER.replace("https://", "ftp://"))
    assert (issue.line, issue.key_path) == (3, "repositories[0].url")
    assert issue.message.startswith("scheme 'ftp' is not supported; use https, http, ssh, git")


@pytest.mark.parametrize(
    "url", ["https://bob:tok3n-s3cret@git.example.com/a.git", "bob:tok3n-s3cret@host:a.git"]
)
def test_a_url_carrying_a_password_is_refused_without_echoing_it(url: str) -> None:
    issue = the_error(HEADER.replace("https://git.example.com/platform.git", url))
    assert (issue.line, issue.key_path) == (3, "repositories[0].url")
    assert "must not carry a password" in issue.message
    assert "s3cret" not in str(issue)


def test_relative_local_paths_resolve_against_the_fleet_files_directory(tmp_path: Path) -> None:
    (tmp_path / "kube").mkdir()
    (tmp_path / "kube" / "a.yaml").write_text("{}")
    path = write(
        tmp_path / "kube",
        """\
        repositories:
          - {name: self, url: ../.., credentials: {ssh_key_file: keys/id}}
        clusters:
          - {name: a, kubeconfig: a.yaml}
        """,
    )
    fleet = load_fleet(path)
    assert fleet.repositories["self"].url == str(tmp_path.parent)
    assert fleet.repositories["self"].credentials == Credentials(
        ssh_key_file=str(tmp_path / "kube" / "keys" / "id")
    )
    assert fleet.clusters["a"].kubeconfig == str(tmp_path / "kube" / "a.yaml")


@pytest.mark.parametrize("ref", ["main", "release/1.2", "v1.10", "a" * 40])
def test_branches_tags_and_full_shas_are_accepted_refs(ref: str) -> None:
    fleet = parse(HEADER.replace("platform.git", f"platform.git\n    ref: '{ref}'"))
    assert fleet.repositories["platform"].ref == ref


@pytest.mark.parametrize("ref", ["two words", "a..b", "ends/", "x.lock", "a~1", "HEAD^"])
def test_a_ref_git_would_refuse_is_an_error(ref: str) -> None:
    issue = the_error(HEADER.replace("platform.git", f"platform.git\n    ref: '{ref}'"))
    assert (issue.line, issue.key_path) == (4, "repositories[0].ref")
    assert issue.message == f"'{ref}' is not a valid branch, tag or full commit sha"


def test_credentials_need_both_username_env_and_password_env() -> None:
    issue = the_error(
        HEADER.replace("platform.git", "platform.git\n    credentials: {username_env: U}")
    )
    assert (issue.line, issue.key_path) == (4, "repositories[0].credentials")
    assert issue.message == "username_env and password_env go together; add 'password_env'"


def test_credentials_are_a_password_or_an_ssh_key_not_both() -> None:
    creds = "credentials: {username_env: U, password_env: P, ssh_key_file: /k}"
    issue = the_error(HEADER.replace("platform.git", f"platform.git\n    {creds}"))
    assert (issue.line, issue.key_path) == (4, "repositories[0].credentials")
    assert "not both" in issue.message


@pytest.mark.parametrize(
    "value",
    [
        "ghp_R3alLookingT0kenValue1234567890abcd",
        "'my s3cret passw0rd'",
        "hunter2-s3cret",
        "xK9mP2vL8nQ4wR7tY3uI6oA1sD5f",
    ],
)
def test_password_env_holding_a_value_is_refused_without_echoing_it(value: str) -> None:
    creds = f"credentials: {{username_env: GIT_USER, password_env: {value}}}"
    issue = the_error(HEADER.replace("platform.git", f"platform.git\n    {creds}"))
    assert (issue.line, issue.key_path) == (4, "repositories[0].credentials.password_env")
    assert "must name an environment variable" in issue.message
    assert value.strip("'") not in str(issue)
    for fragment in ("R3al", "s3cret", "xK9m"):
        assert fragment not in str(issue)


def test_no_credentials_error_echoes_the_value_written() -> None:
    creds = "credentials: {username_env: 12345s3cret, password_env: [s3cret], unknown: s3cret}"
    issues = errors_of(HEADER.replace("platform.git", f"platform.git\n    {creds}"))
    assert len(issues) == 3
    assert not any("s3cret" in str(issue) for issue in issues)


# --- sync ----------------------------------------------------------------------------------


def test_sync_flags_must_be_booleans() -> None:
    issue = the_error(with_app("sync: {prune: maybe}\n"))
    assert (issue.line, issue.key_path) == (15, "applications[0].sync.prune")
    assert issue.message == "must be true or false, not a string"


# --- warnings ------------------------------------------------------------------------------


def test_an_application_whose_targets_resolve_to_no_cluster_is_a_warning(tmp_path: Path) -> None:
    report = check_fleet(
        write(tmp_path, with_app("targets:\n  selector: {matchLabels: {env: dev}}\n"))
    )
    assert report.fleet is not None and not report.errors
    (warning,) = [w for w in report.warnings if "web" in w.message]
    assert (warning.line, warning.key_path) == (15, "applications[0].targets")
    assert "targets no cluster" in warning.message


def test_an_application_without_targets_is_a_warning(tmp_path: Path) -> None:
    report = check_fleet(write(tmp_path, HEADER))
    (warning,) = [w for w in report.warnings if "web" in w.message]
    assert (warning.line, warning.key_path) == (12, "applications[0]")
    assert warning.message == "application 'web' has no targets: it is applied nowhere"


def test_a_cluster_no_application_targets_is_a_warning(tmp_path: Path) -> None:
    report = check_fleet(write(tmp_path, with_app("targets: {clusters: [prod-eu-1]}\n")))
    untargeted = [w for w in report.warnings if "targets cluster" in w.message]
    assert [(w.line, w.key_path, w.message) for w in untargeted] == [
        (8, "clusters[1]", "no application targets cluster 'prod-us-1'")
    ]


def test_a_repository_no_application_uses_is_a_warning(tmp_path: Path) -> None:
    text = HEADER.replace("clusters:", "  - {name: spare, url: https://h/spare.git}\nclusters:")
    report = check_fleet(write(tmp_path, text))
    unused = [w for w in report.warnings if "uses repository" in w.message]
    assert [(w.line, w.key_path) for w in unused] == [(4, "repositories[1]")]


def test_a_missing_kubeconfig_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    report = check_fleet(write(tmp_path, "clusters:\n  - {name: a, kubeconfig: kube/a.yaml}\n"))
    assert report.fleet is not None
    missing = [w for w in report.warnings if "kubeconfig" in w.message]
    assert [(w.line, w.key_path) for w in missing] == [(2, "clusters[0].kubeconfig")]
    assert str(tmp_path / "kube" / "a.yaml") in missing[0].message


def test_an_abbreviated_sha_as_ref_is_a_warning(tmp_path: Path) -> None:
    text = HEADER.replace("platform.git", "platform.git\n    ref: 3f2a9c1")
    report = check_fleet(write(tmp_path, text))
    assert report.fleet is not None
    (warning,) = [w for w in report.warnings if "abbreviated" in w.message]
    assert (warning.line, warning.key_path) == (4, "repositories[0].ref")


def test_a_cluster_listed_twice_in_targets_is_a_warning(tmp_path: Path) -> None:
    report = check_fleet(write(tmp_path, with_app("targets: {clusters: [prod-eu-1, prod-eu-1]}\n")))
    (warning,) = [w for w in report.warnings if "twice" in w.message]
    assert (warning.line, warning.key_path) == (15, "applications[0].targets.clusters[1]")


# --- files ---------------------------------------------------------------------------------


def test_load_fleet_names_the_file_as_given_in_every_issue(tmp_path: Path) -> None:
    path = write(tmp_path, "clusters:\n  - {name: A, kubeconfig: a}\n  - {name: b}\n")
    with pytest.raises(FleetError) as caught:
        load_fleet(path)
    assert [str(i).split(": ")[0] for i in caught.value.issues] == [f"{path}:2", f"{path}:3"]


def test_a_fleet_error_keeps_its_issues_through_pickling() -> None:
    error = FleetError((FleetIssue("fleet.yaml", 3, "clusters[0]", "missing"),))
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.issues, str(copy)) == (FleetError, error.issues, str(error))


def test_a_missing_fleet_file_raises_fleet_file_error(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError) as caught:
        check_fleet(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: cannot read the fleet file: " + (
        "No such file or directory"
    )


def test_a_file_that_is_not_utf8_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(b"clusters: []\n# caf\xe9\n")
    report = check_fleet(path)
    assert report.fleet is None
    assert [(i.line, i.message) for i in report.errors] == [(2, "the file is not UTF-8 text")]


# --- display helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob@git.example.com/a.git", "https://git.example.com/a.git"),
        ("ssh://git@host:2222/a.git", "ssh://host:2222/a.git"),
        ("git@github.com:org/a.git", "github.com:org/a.git"),
        ("/srv/git/a@b", "/srv/git/a@b"),
    ],
)
def test_display_url_strips_userinfo(url: str, shown: str) -> None:
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (300, "5m"), (5400, "1h30m"), (0, "0s")]
)
def test_format_duration_writes_what_the_parser_reads(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- directory, jsonnet and hook options ----------------------------------------------------


def test_directory_jsonnet_and_hook_timeout_are_read_and_survive_publishing() -> None:
    fleet = parse(
        with_app(
            """\
            renderer: jsonnet
            directory: {recurse: false, include: ["*.jsonnet", "{a,b}.yaml"], exclude: "x.yaml"}
            jsonnet:
              extVars: {image: "nginx:1.27", replicas: 3}
              tlas: [{name: env, value: prod}, {name: flags, value: "{a: 1}", code: true}]
              libs: [vendor, lib]
            sync: {hookTimeout: 2m}
            """
        )
    )
    app = next(iter(fleet.applications.values()))
    assert app.directory == DirectoryOptions(
        recurse=False, include=("*.jsonnet", "{a,b}.yaml"), exclude=("x.yaml",)
    )
    assert app.jsonnet == JsonnetOptions(
        ext_vars=(JsonnetVar("image", "nginx:1.27"), JsonnetVar("replicas", "3", True)),
        tlas=(JsonnetVar("env", "prod"), JsonnetVar("flags", "{a: 1}", True)),
        libs=("vendor", "lib"),
    )
    assert app.sync.hook_timeout == 120.0
    assert Fleet.from_json(fleet.to_json()) == fleet


def test_jsonnet_options_on_a_helm_application_are_an_error() -> None:
    issue = the_error(with_app("renderer: helm\njsonnet: {libs: [lib]}\n"))
    assert (issue.line, issue.key_path, issue.message) == (
        16,
        "applications[0].jsonnet",
        "applies only to renderer jsonnet or auto, not helm",
    )


def test_a_directory_glob_leaving_the_application_is_an_error() -> None:
    issue = the_error(with_app("directory: {include: [../other/*.yaml]}\n"))
    assert (issue.key_path, issue.message) == (
        "applications[0].directory.include[0]",
        "must be relative to the application directory, without '..'",
    )
