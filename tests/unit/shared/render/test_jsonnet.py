"""The jsonnet renderer on repositories written the way Argo CD users write them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import (
    DirectoryOptions,
    JsonnetOptions,
    JsonnetVar,
    RendererKind,
)
from fleetsync.shared.render import (
    Limit,
    RenderError,
    RenderLimitExceeded,
    RenderLimits,
    RenderRequest,
    render_isolated,
)
from tests.unit.shared.render.repos import APP, Repo, by_name, names
from tests.unit.shared.render.test_isolation import run_script

GUESTBOOK = """\
local params = import 'params.libsonnet';
local k = import 'k.libsonnet';
[
  k.deployment(params.name, std.extVar('image'), params.replicas),
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: params.name },
    spec: { ports: [{ port: params.port }], selector: { app: params.name } },
  },
]
"""
PARAMS = "{ name: 'guestbook-ui', replicas: 1, port: 80 }\n"
K_LIBSONNET = """\
{
  deployment(name, image, replicas):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: name },
    spec: {
      replicas: replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: name, image: image }] },
      },
    },
  },
}
"""


def guestbook(repo: Repo) -> Repo:
    return repo.write(
        {
            "apps/guestbook/guestbook.jsonnet": GUESTBOOK,
            "apps/guestbook/params.libsonnet": PARAMS,
            "lib/k.libsonnet": K_LIBSONNET,
        }
    )


def image(value: str) -> JsonnetOptions:
    return JsonnetOptions(ext_vars=(JsonnetVar("image", value),), libs=("lib",))


def test_a_jsonnet_directory_is_detected_and_rendered_with_ext_vars_and_libs(repo: Repo) -> None:
    result = guestbook(repo).render("apps/guestbook", jsonnet=image("gcr.io/guestbook:0.2"))
    assert result.renderer is RendererKind.JSONNET
    assert names(result) == ["apps/Deployment/_/guestbook-ui", "core/Service/_/guestbook-ui"]
    deployment = next(o for o in result.bundle.objects if o["kind"] == "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "gcr.io/guestbook:0.2"
    assert "lib" in result.inputs


def test_top_level_arguments_are_passed_as_strings_or_code(repo: Repo) -> None:
    repo.write(
        {
            "app/main.jsonnet": (
                "function(name, replicas) { apiVersion: 'v1', kind: 'ConfigMap', "
                "metadata: { name: name }, data: { replicas: std.toString(replicas + 1) } }\n"
            )
        }
    )
    options = JsonnetOptions(tlas=(JsonnetVar("name", "cm"), JsonnetVar("replicas", "2", True)))
    result = repo.render("app", jsonnet=options)
    assert by_name(result, "cm")["data"] == {"replicas": "3"}


def test_a_top_level_function_without_its_arguments_names_the_missing_one(repo: Repo) -> None:
    repo.write({"app/main.jsonnet": "function(name) { apiVersion: 'v1', kind: 'Namespace' }\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value).startswith(
        "guestbook: app/main.jsonnet: top-level function needs argument name: give it in "
        "fleet.yaml under jsonnet.tlas"
    )


def test_a_syntax_error_names_the_file_and_line(repo: Repo) -> None:
    repo.write({"app/main.jsonnet": "{\n  apiVersion: 'v1',\n  kind: ,\n}\n"})
    with pytest.raises(RenderError, match=r"^guestbook: app/main.jsonnet:3: .*Unexpected"):
        repo.render("app")


def test_an_error_in_an_imported_library_names_the_library_and_line(repo: Repo) -> None:
    repo.write(
        {
            "app/main.jsonnet": "local l = import 'l.libsonnet'; l.x\n",
            "app/l.libsonnet": "{\n  x: error 'broken on purpose',\n}\n",
        }
    )
    with pytest.raises(RenderError, match=r"^guestbook: app/l.libsonnet:2: .*broken on purpose"):
        repo.render("app")


def test_an_import_outside_the_repository_is_refused(repo: Repo) -> None:
    (repo.root.parent / "secret.libsonnet").write_text("{ token: 'x' }\n")
    repo.write({"app/main.jsonnet": "(import '../../secret.libsonnet').token\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value) == (
        "guestbook: app: import '../../secret.libsonnet': '../../secret.libsonnet' is outside "
        "the repository"
    )


def test_an_import_through_a_symlink_out_of_the_repository_is_refused(repo: Repo) -> None:
    outside = repo.root.parent / "elsewhere"
    outside.mkdir()
    (outside / "x.libsonnet").write_text("{}\n")
    repo.write({"app/main.jsonnet": "import 'link/x.libsonnet'\n"})
    os.symlink(outside, repo.root / "app" / "link")
    with pytest.raises(RenderError, match="leads outside the repository"):
        repo.render("app")


def test_output_that_is_not_an_object_is_an_error(repo: Repo) -> None:
    repo.write({"app/main.jsonnet": "{ deployment: { apiVersion: 'apps/v1' } }\n"})
    with pytest.raises(RenderError, match=r"app/main.jsonnet: its output is not a Kubernetes"):
        repo.render("app")


def test_yaml_beside_jsonnet_is_read_and_directory_options_apply(repo: Repo) -> None:
    repo.write(
        {
            "app/a.jsonnet": "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }",
            "app/b.jsonnet": "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } }",
            "app/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        }
    )
    result = repo.render("app", directory=DirectoryOptions(exclude=("b.jsonnet",)))
    assert names(result) == ["core/ConfigMap/_/a", "core/ConfigMap/_/c"]


RUNAWAY = """\
local count = std.foldl(
  function(acc, i) acc + std.length(std.toString(i)), std.range(1, 30000000), 0
);
{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { n: std.toString(count) } }
"""


def test_a_runaway_program_is_killed_at_the_render_time_limit(repo: Repo, tmp_path: Path) -> None:
    repo.write({"app/main.jsonnet": RUNAWAY})
    request = RenderRequest(root=repo.root, path="app", app=APP)
    with pytest.raises(RenderLimitExceeded) as caught:
        render_isolated(request, limits=RenderLimits(timeout_seconds=1), scratch_dir=tmp_path)
    assert caught.value.limit in (Limit.TIME, Limit.MEMORY)
    assert "render exceeded its" in str(caught.value)


IN_A_WORKER = """
    import sys
    from pathlib import Path
    from fleetsync.shared.render import RenderLimits, RenderRequest, render_isolated
    from fleetsync.shared.render import renderer_version
    from fleetsync.shared.model.declaration import RendererKind
    root, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    result = render_isolated(
        RenderRequest(root=root, path="app", app="guestbook"),
        limits=RenderLimits(),
        scratch_dir=scratch,
    )
    print(result.renderer.value, len(result.bundle.objects), renderer_version(RendererKind.JSONNET))
    print("_gojsonnet" in sys.modules)
"""


def test_a_worker_renders_jsonnet_in_a_render_process_and_never_loads_go(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(
        {"app/main.jsonnet": "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }"}
    )
    done = run_script(IN_A_WORKER, str(repo.root), str(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    first, loaded = done.stdout.splitlines()
    assert first.startswith("jsonnet 1 jsonnet/0.")
    assert loaded == "False"


def test_output_over_the_bound_is_refused_naming_the_file(repo: Repo) -> None:
    repo.write(
        {"app/main.jsonnet": "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }\n"}
    )
    with pytest.raises(
        RenderLimitExceeded,
        match=r"^guestbook: app/main.jsonnet: render output exceeded its 16 bytes limit",
    ):
        repo.render("app", limits=RenderLimits(max_output_bytes=16))
