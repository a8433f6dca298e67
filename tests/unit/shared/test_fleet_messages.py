"""Every rule of fleet.yaml names its problem the same way, word for word: the line, the key
and a message that says what is wrong and what to write instead. The messages are the
declaration's user interface: a change to one is a change users see."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.fleet import FleetError, check_fleet, parse_fleet
from fleetsync.shared.fleet.applications import APPLICATION_KEYS
from fleetsync.shared.model.ids import RepoName
from tests.unit.shared.test_fleet import HEADER, with_app

URL_LINE = "    url: https://git.example.com/platform.git\n"


def with_credentials(credentials: str) -> str:
    """HEADER with `credentials: ...` on the repository (line 4)."""
    return HEADER.replace(URL_LINE, f"{URL_LINE}    credentials: {credentials}\n")


def with_expression(expression: str) -> str:
    """HEADER with one matchExpressions entry in web's target selector (line 15)."""
    return with_app(f"targets: {{selector: {{matchExpressions: [{expression}]}}}}\n")


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        pytest.param(
            "repositories: [\n  - name: x\n",
            2,
            "",
            (
                "invalid YAML at line 2, column 3: expected the node content, but found"
                " '-' (while parsing a flow node)"
            ),
            id="yaml_syntax",
        ),
        pytest.param(
            "a: {b: c\nd: e\n",
            2,
            "",
            (
                "invalid YAML at line 2, column 2: expected ',' or '}', but got ':' "
                "(while parsing a flow mapping)"
            ),
            id="yaml_syntax_context",
        ),
        pytest.param(
            "repositories: []\nclusters: []\napplications: []\n# \x07\n",
            4,
            "",
            "invalid YAML: a control character is not allowed",
            id="yaml_control_char",
        ),
        pytest.param(
            with_app("helm: {values: [1, 2]}\n"),
            15,
            "applications[0].helm.values",
            "must be a mapping, not a list",
            id="helm_values_not_mapping",
        ),
        pytest.param(
            with_app("helm: {values: 3}\n"),
            15,
            "applications[0].helm.values",
            "must be a mapping, not a number",
            id="helm_values_scalar",
        ),
        pytest.param(
            with_app("helm: {values: true}\n"),
            15,
            "applications[0].helm.values",
            "must be a mapping, not a boolean",
            id="helm_values_bool",
        ),
        pytest.param(
            with_app("helm: {values: text}\n"),
            15,
            "applications[0].helm.values",
            "must be a mapping, not a string",
            id="helm_values_string",
        ),
        pytest.param(
            with_app("helm: {values: {a: .inf}}\n"),
            15,
            "applications[0].helm.values.a",
            "must be a finite number (values travel as JSON)",
            id="helm_values_float_inf",
        ),
        pytest.param(
            with_app("helm: {values: &a {b: *a}}\n"),
            15,
            "applications[0].helm.values.b",
            "refers to itself (a recursive alias)",
            id="helm_values_alias_loop",
        ),
        pytest.param(
            with_app("helm: {release: Bad_Name}\n"),
            15,
            "applications[0].helm.release",
            (
                "'Bad_Name' is not a valid Helm release name: lowercase letters, digits"
                " and '-', starting and ending with a letter or digit, at most 53 "
                "characters"
            ),
            id="helm_release_bad",
        ),
        pytest.param(
            with_app("helm: {valuesFiles: [/etc/values.yaml]}\n"),
            15,
            "applications[0].helm.valuesFiles[0]",
            "must be relative to the application path, not absolute",
            id="helm_values_file_abs",
        ),
        pytest.param(
            with_app("helm: {valuesFiles: [../../../x.yaml]}\n"),
            15,
            "applications[0].helm.valuesFiles[0]",
            "leaves the repository: values files must be inside it",
            id="helm_values_file_escape",
        ),
        pytest.param(
            with_credentials("{username_env: U, password_env: P, ssh_key_file: /k}"),
            4,
            "repositories[0].credentials",
            "use either username_env and password_env, or ssh_key_file, not both",
            id="creds_both",
        ),
        pytest.param(
            with_credentials("{username_env: U}"),
            4,
            "repositories[0].credentials",
            "username_env and password_env go together; add 'password_env'",
            id="creds_user_only",
        ),
        pytest.param(
            with_credentials("{password_env: P}"),
            4,
            "repositories[0].credentials",
            "username_env and password_env go together; add 'username_env'",
            id="creds_pass_only",
        ),
        pytest.param(
            with_credentials("{}"),
            4,
            "repositories[0].credentials",
            "name username_env and password_env, or ssh_key_file",
            id="creds_empty",
        ),
        pytest.param(
            with_credentials("{username_env: 'my user', password_env: P}"),
            4,
            "repositories[0].credentials.username_env",
            (
                "must name an environment variable (letters, digits and '_', not "
                "starting with a digit), not hold a value"
            ),
            id="creds_env_value",
        ),
        pytest.param(
            with_credentials("{username_env: U, password_env: ghp_abcdefABCDEF0123456789}"),
            4,
            "repositories[0].credentials.password_env",
            (
                "must name an environment variable, and this looks like a secret value:"
                " put the secret in an environment variable and write the variable's "
                "name here"
            ),
            id="creds_env_secret",
        ),
        pytest.param(
            with_credentials("{username_env: U, password_env: Abcdefghijklmnop1234567890XYZ}"),
            4,
            "repositories[0].credentials.password_env",
            (
                "must name an environment variable, and this looks like a secret value:"
                " put the secret in an environment variable and write the variable's "
                "name here"
            ),
            id="creds_env_secret2",
        ),
        pytest.param(
            with_expression("{key: env, operator: In}"),
            15,
            "applications[0].targets.selector.matchExpressions[0]",
            "operator In needs at least one value in 'values'",
            id="selector_in_no_values",
        ),
        pytest.param(
            with_expression("{key: env, operator: NotIn, values: []}"),
            15,
            "applications[0].targets.selector.matchExpressions[0]",
            "operator NotIn needs at least one value in 'values'",
            id="selector_notin_no_values",
        ),
        pytest.param(
            with_expression("{key: env, operator: Exists, values: [a]}"),
            15,
            "applications[0].targets.selector.matchExpressions[0].values",
            "operator Exists takes no values",
            id="selector_exists_values",
        ),
        pytest.param(
            with_expression("{key: env, operator: DoesNotExist, values: [a]}"),
            15,
            "applications[0].targets.selector.matchExpressions[0].values",
            "operator DoesNotExist takes no values",
            id="selector_dne_values",
        ),
        pytest.param(
            with_expression("{key: env, operator: in, values: [a]}"),
            15,
            "applications[0].targets.selector.matchExpressions[0].operator",
            "'in' is not one of In, NotIn, Exists, DoesNotExist; did you mean 'In'?",
            id="selector_bad_op",
        ),
        pytest.param(
            with_expression("{key: -bad, operator: Exists}"),
            15,
            "applications[0].targets.selector.matchExpressions[0].key",
            (
                "'-bad' is not a valid label key: an optional DNS subdomain and '/', "
                "then at most 63 letters, digits, '-', '_' or '.', starting and ending "
                "with a letter or digit"
            ),
            id="selector_bad_key",
        ),
        pytest.param(
            with_expression("{operator: Exists}"),
            15,
            "applications[0].targets.selector.matchExpressions[0]",
            "missing required key 'key'",
            id="selector_missing_key",
        ),
        pytest.param(
            with_app("namespace: [a]\n"),
            15,
            "applications[0].namespace",
            "must be a string, not a list",
            id="kind_list_for_string",
        ),
        pytest.param(
            with_app("dependsOn: [~]\n"),
            15,
            "applications[0].dependsOn[0]",
            "must be a string, not empty",
            id="kind_null_for_string",
        ),
        pytest.param(
            with_app("namespace: {a: b}\n"),
            15,
            "applications[0].namespace",
            "must be a string, not a mapping",
            id="kind_map_for_string",
        ),
        pytest.param(
            with_app("namespace: 3.5\n"),
            15,
            "applications[0].namespace",
            (
                "'3.5' is not a valid namespace: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters"
            ),
            id="kind_float_for_string",
        ),
        pytest.param(
            HEADER.replace("region: us}\n", "region: us}\n    watch: yes please\n"),
            11,
            "clusters[1].watch",
            "must be true or false, not a string",
            id="cluster_watch_not_bool",
        ),
        pytest.param(
            with_app("sync: {prune: yes please}\n"),
            15,
            "applications[0].sync.prune",
            "must be true or false, not a string",
            id="kind_string_for_bool",
        ),
        pytest.param(
            with_app("targets: {clusters: {a: b}}\n"),
            15,
            "applications[0].targets.clusters",
            "must be a list, not a mapping",
            id="kind_map_for_list",
        ),
        pytest.param(
            with_app("targets: {clusters: [prod-eu-2]}\n"),
            15,
            "applications[0].targets.clusters[0]",
            (
                "cluster 'prod-eu-2' is not declared; declared clusters: prod-eu-1, "
                "prod-us-1; did you mean 'prod-eu-1'?"
            ),
            id="undeclared_cluster",
        ),
        pytest.param(
            with_app("targets: {clusters: [staging]}\n"),
            15,
            "applications[0].targets.clusters[0]",
            "cluster 'staging' is not declared; declared clusters: prod-eu-1, prod-us-1",
            id="undeclared_cluster_far",
        ),
        pytest.param(
            HEADER.replace("    repository: platform\n", "    repository: platfrom\n"),
            13,
            "applications[0].repository",
            (
                "repository 'platfrom' is not declared; declared repositories: "
                "platform; did you mean 'platform'?"
            ),
            id="undeclared_repo",
        ),
        pytest.param(
            with_app("namepsace: web\n"),
            15,
            "applications[0].namepsace",
            "unknown key 'namepsace'; did you mean 'namespace'?",
            id="unknown_key_close",
        ),
        pytest.param(
            with_app("drift_interval: 5m\n"),
            15,
            "applications[0].drift_interval",
            # every key an application takes, as the schema lists them
            "unknown key 'drift_interval'; allowed keys: " + ", ".join(APPLICATION_KEYS),
            id="unknown_key_squash",
        ),
        pytest.param(
            with_app("zzz: 1\n"),
            15,
            "applications[0].zzz",
            "unknown key 'zzz'; allowed keys: " + ", ".join(APPLICATION_KEYS),
            id="unknown_key_far",
        ),
        pytest.param(
            with_app("sync: {selfheal: true}\n"),
            15,
            "applications[0].sync.selfheal",
            "unknown key 'selfheal'; did you mean 'selfHeal'?",
            id="unknown_sync_key",
        ),
        pytest.param(
            "repositories: []\nclusters: []\n"
            "applications:\n  - {name: web, repository: platform, path: a}\n",
            4,
            "applications[0].repository",
            "repository 'platform' is not declared; no repositories are declared",
            id="no_repos_declared",
        ),
        pytest.param(
            with_app("targets: 3.5\n"),
            15,
            "applications[0].targets",
            "must be a mapping, not a number",
            id="kind_float_for_mapping",
        ),
        pytest.param(
            with_app("targets: 3\n"),
            15,
            "applications[0].targets",
            "must be a mapping, not a number",
            id="kind_int_for_mapping",
        ),
        pytest.param(
            with_app("targets: !!binary aGk=\n"),
            15,
            "applications[0].targets",
            "must be a mapping, not a scalar",
            id="kind_other_scalar_for_mapping",
        ),
        pytest.param(
            with_app("sync: yes\n"),
            15,
            "applications[0].sync",
            "must be a mapping, not a boolean",
            id="kind_bool_for_mapping",
        ),
        pytest.param(
            with_app("sync: {drift-interval: 5m}\n"),
            15,
            "applications[0].sync.drift-interval",
            "unknown key 'drift-interval'; did you mean 'driftInterval'?",
            id="suggest_despite_dashes",
        ),
        pytest.param(
            with_app("sync: {DRIFT_INTERVAL: 5m}\n"),
            15,
            "applications[0].sync.DRIFT_INTERVAL",
            "unknown key 'DRIFT_INTERVAL'; did you mean 'driftInterval'?",
            id="suggest_despite_case_and_underscores",
        ),
        pytest.param(
            with_app("helm: {values: {a: &x [1, *x]}}\n"),
            15,
            "applications[0].helm.values.a[1]",
            "refers to itself (a recursive alias)",
            id="helm_values_alias_loop_in_a_list",
        ),
        pytest.param(
            with_app("helm: {values: {a: !!binary aGk=}}\n"),
            15,
            "applications[0].helm.values.a",
            "must be a string, number, boolean or null, not bytes",
            id="helm_values_not_json",
        ),
        pytest.param(
            with_credentials("{password_env: P, ssh_key_file: /k}"),
            4,
            "repositories[0].credentials",
            "use either username_env and password_env, or ssh_key_file, not both",
            id="creds_key_and_password",
        ),
        pytest.param(
            with_app("helm: {releas: x}\n"),
            15,
            "applications[0].helm.releas",
            "unknown key 'releas'; did you mean 'release'?",
            id="helm_unknown_key",
        ),
        pytest.param(
            with_app("helm: {valuesFiles: ['../../..']}\n"),
            15,
            "applications[0].helm.valuesFiles[0]",
            "leaves the repository: values files must be inside it",
            id="helm_values_file_is_the_parent",
        ),
        pytest.param(
            with_credentials("{username_env: U, password_env: Abcdefghijklmnopqrstu123}"),
            4,
            "repositories[0].credentials.password_env",
            (
                "must name an environment variable, and this looks like a secret value: put the"
                " secret in an environment variable and write the variable's name here"
            ),
            id="creds_env_secret_of_24_characters",
        ),
        pytest.param(
            HEADER.replace(
                "repositories:\n  - name: platform\n    url: https://git.example.com/platform.git\n",
                "repositories:\n  - name: platform\n    url: https://git.example.com/platform.git\n"
                "  -\n",
            ),
            4,
            "repositories[1]",
            "must be a mapping, not empty",
            id="kind_empty_for_mapping",
        ),
        pytest.param(
            with_app("renderer: helm\ndirectory: {recurse: true}\n"),
            16,
            "applications[0].directory",
            "applies only to renderer plain, jsonnet or auto, not helm",
            id="directory_with_helm",
        ),
        pytest.param(
            with_app("{[a]: b}: 1\n"),
            15,
            "applications[0]",
            "keys must be strings, not a mapping",
            id="key_not_a_string",
        ),
        pytest.param(
            with_app('namespace: ""\n'),
            15,
            "applications[0].namespace",
            "must not be empty",
            id="string_empty",
        ),
        pytest.param(
            with_expression("{key: a, operator: Exists, extra: 1}"),
            15,
            "applications[0].targets.selector.matchExpressions[0].extra",
            "unknown key 'extra'; allowed keys: key, operator, values",
            id="selector_expression_unknown_key",
        ),
        pytest.param(
            with_app("helm: {valuesFrom: {repository: platform}}\n"),
            15,
            "applications[0].helm.valuesFrom",
            "missing required key 'path'",
            id="values_from_without_path",
        ),
        pytest.param(
            with_app("renderer: jsonnet\njsonnet: {extVars: [{name: a, value: '${cluster.x}'}]}\n"),
            16,
            "applications[0].jsonnet.extVars",
            "a: ${cluster.x} is not a variable fleetsync knows; variables are cluster.name, "
            "cluster.labels.KEY and cluster.values.PATH (write $${cluster.x} for a literal "
            "${cluster.x})",
            id="jsonnet_var_unknown_variable",
        ),
        pytest.param(
            with_app("renderer: jsonnet\njsonnet: {tlas: {a: '${cluster.x}'}}\n"),
            16,
            "applications[0].jsonnet.tlas",
            "a: ${cluster.x} is not a variable fleetsync knows; variables are cluster.name, "
            "cluster.labels.KEY and cluster.values.PATH (write $${cluster.x} for a literal "
            "${cluster.x})",
            id="jsonnet_var_map_unknown_variable",
        ),
        pytest.param(
            with_app("rollout: {bake: []}\n"),
            15,
            "applications[0].rollout.bake",
            "a list is not a duration; write seconds (90) or hours, minutes, seconds "
            "(30s, 5m, 1h30m)",
            id="duration_of_a_list",
        ),
    ],
)
def test_each_problem_is_named_by_line_key_and_message(
    text: str, line: int, key: str, message: str
) -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet(text, source="fleet.yaml", base_dir=Path("/srv/fleet"))
    assert [(i.source, i.line, i.key_path, i.message) for i in caught.value.issues] == [
        ("fleet.yaml", line, key, message)
    ]


def test_a_control_character_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(b"repositories: []\n# bell \x07\n")
    report = check_fleet(path)
    assert report.fleet is None
    assert [(i.line, i.message) for i in report.errors] == [
        (2, "invalid YAML: a control character is not allowed")
    ]


@pytest.mark.parametrize(
    "name",
    [
        "Abcdefghijklmnopqrstu12",  # 23 characters
        "ABCDEFGHIJKLMNOPQRSTU123",  # no lowercase letter
        "abcdefghijklmnopqrstu123",  # no uppercase letter
        "Abcdefghijklmnopqrstuvwx",  # no digit
    ],
)
def test_a_long_variable_name_is_taken_for_a_secret_only_when_it_mixes_all_three_kinds(
    name: str,
) -> None:
    parse_fleet(
        with_credentials(f"{{username_env: U, password_env: {name}}}"),
        source="fleet.yaml",
        base_dir=Path("/srv/fleet"),
    )


EMPTY = "repositories: []\nclusters: []\napplications: []\n"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param(
            HEADER.replace(URL_LINE, "    url: https://git.example.com:99999/platform.git\n"),
            "repositories[0].url",
            id="git_port_out_of_range",
        ),
        pytest.param(
            "repositories:\n  - {name: charts, type: helm, url: 'https://[::1/charts'}\n"
            "clusters: []\napplications: []\n",
            "repositories[0].url",
            id="chart_repository_bad_ipv6",
        ),
        pytest.param(
            "repositories:\n  - {name: charts, type: oci, url: 'oci://registry:x/charts'}\n"
            "clusters: []\napplications: []\n",
            "repositories[0].url",
            id="oci_port_not_a_number",
        ),
        pytest.param(
            EMPTY + "notifications:\n"
            "  - {name: ops, url: 'https://hooks.example.com:99999/x', events: [drift]}\n",
            "notifications[0].url",
            id="notification_port_out_of_range",
        ),
    ],
)
def test_a_url_that_cannot_be_split_is_not_a_valid_url(text: str, key: str) -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet(text, source="fleet.yaml", base_dir=Path("/srv/fleet"))
    assert [(i.key_path, i.message) for i in caught.value.issues] == [(key, "is not a valid URL")]


def test_every_problem_is_one_line_of_the_error(tmp_path: Path) -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet(with_app("zzz: 1\nyyy: 2\n"), source="fleet.yaml", base_dir=Path("/srv/fleet"))
    first, second = str(caught.value).split("\n")
    allowed = first.partition("allowed keys: ")[2]
    assert allowed.startswith("name, repository, path, namespace, renderer, helm, targets, sync")
    assert (first, second) == (
        f"fleet.yaml:15: applications[0].zzz: unknown key 'zzz'; allowed keys: {allowed}",
        f"fleet.yaml:16: applications[0].yyy: unknown key 'yyy'; allowed keys: {allowed}",
    )


def test_an_ssh_key_file_is_found_beside_the_fleet_file_or_warned_about(tmp_path: Path) -> None:
    (tmp_path / "deploy.key").write_text("not really a key\n")
    found = tmp_path / "found.yaml"
    found.write_text(with_credentials("{ssh_key_file: deploy.key}"))
    report = check_fleet(found)
    assert report.fleet is not None
    assert not [w for w in report.warnings if "ssh_key_file" in w.key_path]
    repo = report.fleet.repositories[RepoName("platform")]
    assert repo.credentials is not None
    assert repo.credentials.ssh_key_file == str(tmp_path / "deploy.key")
    missing = tmp_path / "missing.yaml"
    missing.write_text(with_credentials("{ssh_key_file: nowhere.key}"))
    warned = check_fleet(missing)
    assert warned.fleet is not None
    assert [(w.line, w.message) for w in warned.warnings if "ssh_key_file" in w.key_path] == [
        (4, "the SSH key file does not exist")
    ]
