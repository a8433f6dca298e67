"""The Helm renderer: the chart rendered in-process, from a confined copy."""

from __future__ import annotations

import pytest

from fleetsync.shared.model.declaration import HelmOptions, RendererKind
from fleetsync.shared.render import RenderError
from tests.unit.shared.render.repos import Repo, by_name, names

CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "replicas: 1\nimage: {repository: nginx, tag: '1.0'}\ncolor: blue\n",
    "charts/web/templates/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
          labels: {ns: {{ .Release.Namespace | quote }}}
        spec:
          replicas: {{ .Values.replicas }}
          template:
            spec:
              containers:
                - name: web
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                  env: [{name: COLOR, value: {{ .Values.color | quote }}}]
        """,
    "charts/web/templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}\n",
    "charts/web/templates/optional.yaml": """
        {{- if .Values.extra }}
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: extra}
        {{- end }}
        """,
    "charts/web/templates/_helpers.tpl": '{{- define "web.name" -}}web{{- end -}}\n',
}


def test_chart_renders_with_defaults_then_values_files_in_order_then_inline_values(
    repo: Repo,
) -> None:
    repo.write(
        {
            **CHART,
            "charts/web/values-prod.yaml": "replicas: 3\nimage: {tag: '2.0'}\ncolor: green\n",
            "envs/prod/override.yaml": "replicas: 5\n",
        }
    )
    options = HelmOptions(
        values={"color": "red"}, values_files=("values-prod.yaml", "../../envs/prod/override.yaml")
    )
    result = repo.render("charts/web", namespace="guestbook", helm=options)
    assert result.renderer is RendererKind.HELM
    deployment = by_name(result, "guestbook")
    assert deployment["spec"]["replicas"] == 5
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:2.0"
    assert container["env"] == [{"name": "COLOR", "value": "red"}]
    assert result.inputs == (
        "charts/web",
        "envs/prod/override.yaml",
    )


def test_release_defaults_to_the_app_name_and_notes_and_empty_templates_are_skipped(
    repo: Repo,
) -> None:
    repo.write(CHART)
    result = repo.render("charts/web", namespace="guestbook")
    assert names(result) == ["apps/Deployment/guestbook/guestbook"]
    assert by_name(result, "guestbook")["metadata"]["labels"] == {"ns": "guestbook"}


def test_release_name_can_be_set(repo: Repo) -> None:
    repo.write(CHART)
    result = repo.render("charts/web", helm=HelmOptions(release="frontend"))
    assert names(result) == ["apps/Deployment/_/frontend"]


def test_template_error_names_the_template_and_line(repo: Repo) -> None:
    repo.write({**CHART, "charts/web/templates/broken.yaml": "x: {{ .Values.nope.deeper }}\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("charts/web")
    message = str(caught.value)
    assert message.startswith("guestbook: web/templates/broken.yaml:1: template error: ")
    assert "nil pointer" in message


def test_chart_crds_are_part_of_the_bundle(repo: Repo) -> None:
    repo.write(
        {
            **CHART,
            "charts/web/crds/widgets.yaml": """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: widgets.example.com}
                spec:
                  group: example.com
                  scope: Namespaced
                  names: {kind: Widget, plural: widgets}
                """,
        }
    )
    result = repo.render("charts/web")
    assert "apiextensions.k8s.io/CustomResourceDefinition/_/widgets.example.com" in names(result)


def test_file_dependency_inside_the_root_is_rendered_and_reported_as_an_input(
    repo: Repo,
) -> None:
    repo.write(
        {
            **CHART,
            "charts/web/Chart.yaml": """
                apiVersion: v2
                name: web
                version: 0.1.0
                dependencies:
                  - {name: common, version: 1.0.0, repository: "file://../../libs/common"}
                """,
            "libs/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 1.0.0\n",
            "libs/common/values.yaml": "port: 80\n",
            "libs/common/templates/svc.yaml": """
                apiVersion: v1
                kind: Service
                metadata: {name: {{ .Release.Name }}-common}
                spec: {ports: [{port: {{ .Values.port }}}]}
                """,
        }
    )
    result = repo.render("charts/web", helm=HelmOptions(values={"common": {"port": 8080}}))
    assert by_name(result, "guestbook-common")["spec"]["ports"] == [{"port": 8080}]
    assert result.inputs == ("charts/web", "libs/common")


def test_dependency_that_is_not_vendored_is_refused(repo: Repo) -> None:
    repo.write(
        {
            **CHART,
            "charts/web/Chart.yaml": """
                apiVersion: v2
                name: web
                version: 0.1.0
                dependencies:
                  - {name: redis, version: 1.0.0, repository: "https://charts.example.com"}
                """,
        }
    )
    with pytest.raises(RenderError, match=r"^guestbook: charts/web/Chart.yaml: dependency redis"):
        repo.render("charts/web")


def test_values_file_outside_the_root_is_refused(repo: Repo) -> None:
    repo.write(CHART)
    options = HelmOptions(values_files=("../../../outside/values.yaml",))
    with pytest.raises(RenderError) as caught:
        repo.render("charts/web", helm=options)
    assert str(caught.value) == (
        "guestbook: charts/web: valuesFiles: '../../../outside/values.yaml'"
        " is outside the repository"
    )


def test_missing_values_file_is_named(repo: Repo) -> None:
    repo.write(CHART)
    with pytest.raises(
        RenderError, match=r"^guestbook: charts/web/nope.yaml: values file does not"
    ):
        repo.render("charts/web", helm=HelmOptions(values_files=("nope.yaml",)))


def test_chart_that_cannot_be_loaded_is_a_render_error_naming_the_chart(repo: Repo) -> None:
    repo.write({**CHART, "charts/web/Chart.yaml": "apiVersion: v2\nversion: 0.1.0\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("charts/web")
    message = str(caught.value)
    assert message.startswith("guestbook: charts/web: chart cannot be loaded: ")
    assert "fleetsync-helm" not in message


HOOKED_CHART = {
    "charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
    "charts/db/templates/service.yaml": """
        apiVersion: v1
        kind: Service
        metadata: {name: {{ .Release.Name }}}
        spec: {ports: [{port: 5432}]}
        """,
    "charts/db/templates/pre-install-job.yaml": """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ .Release.Name }}-migrate
          annotations:
            helm.sh/hook: pre-install,pre-upgrade
            helm.sh/hook-weight: "-1"
            helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: busybox}]
        """,
    "charts/db/templates/tests/test-connection.yaml": """
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{ .Release.Name }}-test-connection
          annotations: {helm.sh/hook: test}
        spec:
          restartPolicy: Never
          containers: [{name: wget, image: busybox, command: [wget, db:5432]}]
        """,
}


def test_a_chart_s_hooks_stay_in_the_bundle_and_its_test_hooks_are_never_applied(
    repo: Repo,
) -> None:
    result = repo.write(HOOKED_CHART).render("charts/db", namespace="data")
    assert names(result) == ["batch/Job/data/guestbook-migrate", "core/Service/data/guestbook"]
    assert result.warnings == (
        "db/templates/tests/test-connection.yaml:1: core/Pod/_/guestbook-test-connection: "
        "Helm test hook (test): never applied",
    )
