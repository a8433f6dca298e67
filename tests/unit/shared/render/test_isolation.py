"""Helm and kustomize in a render process of their own: safe under fork, killed at the time
limit, refused over the memory and output limits, nothing left behind, errors intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import HelmOptions, RendererKind
from fleetsync.shared.render import (
    Limit,
    RenderError,
    RenderLimitExceeded,
    RenderLimits,
    RenderRequest,
    RenderResult,
    render_isolated,
    sweep_scratch,
)
from fleetsync.shared.render.isolation import _environment
from tests.support.waiting import wait_for
from tests.unit.shared.render.charts import ENDLESS_CHART, configmaps_chart, under
from tests.unit.shared.render.repos import APP, Repo

MiB = 1024 * 1024


def render(
    repo: Repo, scratch: Path, path: str, limits: RenderLimits | None = None
) -> RenderResult:
    request = RenderRequest(root=repo.root, path=path, app=APP, namespace="guestbook")
    return render_isolated(request, limits=limits or RenderLimits(), scratch_dir=scratch)


def render_processes(parent: int | None = None) -> list[int]:
    """Render processes started by `parent` (this test process) that are still alive."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fleetsync.shared.render.child" in argv and str(parent).encode() in argv:
            found.append(int(entry.name))
    return found


def run_script(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a fresh interpreter; kill its whole session if it hangs."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"script still running after {timeout}s: it hangs") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


FORKED_RENDER = """
    import os, sys
    from pathlib import Path
    from fleetsync.shared.model.declaration import RendererKind
    from fleetsync.shared.render import (
        RenderLimits, RenderRequest, render_isolated, renderer_version,
    )

    root, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    request = RenderRequest(root=root, path="big", app="guestbook", namespace="guestbook")
    # What a worker process does before its pool forks or between tasks: a render key (Helm's
    # version in it), a render.
    renderer_version(RendererKind.HELM)
    render_isolated(request, limits=RenderLimits(), scratch_dir=scratch)
    pid = os.fork()
    if pid == 0:
        result = render_isolated(request, limits=RenderLimits(), scratch_dir=scratch)
        print(len(result.bundle.objects), flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    maps = Path("/proc/self/maps").read_text()
    print("helm loaded" if "libhelm_c" in maps or "helm_python" in sys.modules else "no helm")
    sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_large_chart_renders_in_a_forked_child_of_a_process_that_rendered_charts(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(under("big", configmaps_chart(300)))
    done = run_script(FORKED_RENDER, str(repo.root), str(tmp_path / "scratch"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["300", "no", "helm"]


def test_a_render_that_never_ends_is_killed_at_its_time_limit(repo: Repo, tmp_path: Path) -> None:
    repo.write(under("endless", ENDLESS_CHART))
    scratch = tmp_path / "scratch"
    with pytest.raises(RenderLimitExceeded) as caught:
        render(repo, scratch, "endless", RenderLimits(timeout_seconds=1.5))
    assert caught.value.limit is Limit.TIME
    assert str(caught.value) == (
        "guestbook: endless: render exceeded its 1.5 s time limit;"
        " make it lighter or raise FLEETSYNC_RENDER_TIMEOUT"
    )
    assert render_processes() == []
    assert list(scratch.iterdir()) == []


ENDLESS_RENDER = """
    import sys
    from pathlib import Path
    from fleetsync.shared.render import RenderLimits, RenderRequest, render_isolated

    root, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    request = RenderRequest(root=root, path="endless", app="guestbook")
    render_isolated(request, limits=RenderLimits(timeout_seconds=600), scratch_dir=scratch)
"""


def test_a_worker_killed_mid_render_leaves_no_render_running_and_its_scratch_is_swept(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(under("endless", ENDLESS_CHART))
    scratch = tmp_path / "scratch"
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ENDLESS_RENDER), str(repo.root), str(scratch)]
    )
    try:
        wait_for(lambda: render_processes(worker.pid), what="the render process")
        [area] = [p for p in scratch.iterdir() if not p.name.endswith(".lock")]
        wait_for(lambda: any((area / "tmp").iterdir()), what="the chart staged for Helm")
    finally:
        worker.kill()
        worker.wait()
    wait_for(lambda: not render_processes(worker.pid), timeout=10, what="the render process gone")
    assert any((area / "tmp").iterdir())  # the render process's staged chart, left behind
    assert sweep_scratch(scratch) == [area]
    assert list(scratch.iterdir()) == []


def test_a_chart_over_the_memory_limit_is_refused_and_one_under_it_renders(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(under("huge", configmaps_chart(30_000)))
    repo.write(under("big", configmaps_chart(300)))
    limits = RenderLimits(max_memory_bytes=256 * MiB, max_output_bytes=1024 * MiB)
    scratch = tmp_path / "scratch"
    with pytest.raises(RenderLimitExceeded) as caught:
        render(repo, scratch, "huge", limits)
    assert caught.value.limit is Limit.MEMORY
    assert str(caught.value) == (
        "guestbook: huge: render exceeded its 256 MiB memory limit;"
        " make it lighter or raise FLEETSYNC_RENDER_MEMORY"
    )
    assert len(render(repo, scratch, "big", limits).bundle.objects) == 300
    assert list(scratch.iterdir()) == []


def test_a_chart_over_the_output_limit_is_refused_naming_its_size(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(under("big", configmaps_chart(3000)))
    with pytest.raises(RenderLimitExceeded) as caught:
        render(repo, tmp_path / "scratch", "big", RenderLimits(max_output_bytes=1 * MiB))
    assert caught.value.limit is Limit.OUTPUT
    assert str(caught.value) == (
        "guestbook: big: render output exceeded its 1 MiB limit (the chart renders 3.1 MiB);"
        " split the application"
    )


def test_kustomize_renders_in_a_render_process_under_the_same_limits(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: k-\n",
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n",
        }
    )
    result = render(repo, tmp_path / "scratch", "app")
    assert result.renderer is RendererKind.KUSTOMIZE
    assert [o["metadata"] for o in result.bundle.objects] == [
        {"name": "k-one", "namespace": "guestbook"}
    ]
    with pytest.raises(RenderLimitExceeded, match="render output exceeded its 16 bytes limit"):
        render(repo, tmp_path / "scratch", "app", RenderLimits(max_output_bytes=16))


def test_bad_input_reaches_the_caller_as_the_same_render_error(repo: Repo, tmp_path: Path) -> None:
    repo.write(
        {
            **under("web", configmaps_chart(1, name="web")),
            "web/templates/broken.yaml": "x: {{ .Values.nope.deeper }}\n",
        }
    )
    with pytest.raises(RenderError) as isolated:
        render(repo, tmp_path / "scratch", "web")
    with pytest.raises(RenderError) as here:
        repo.render("web")
    assert str(isolated.value) == str(here.value)
    assert isolated.value.where == "web/templates/broken.yaml:1"
    assert not isinstance(isolated.value, RenderLimitExceeded)


def test_a_chart_renders_the_same_bundle_as_in_process_with_values(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write(
        {
            "web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "web/values.yaml": "color: blue\n",
            "web/templates/cm.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: {{ .Release.Name }}}
                data: {color: {{ .Values.color | quote }}, ns: {{ .Release.Namespace }}}
                """,
        }
    )
    options = HelmOptions(release="front", values={"color": "red"})
    request = RenderRequest(
        root=repo.root, path="web", app=APP, namespace="guestbook", helm=options
    )
    isolated = render_isolated(request, limits=RenderLimits(), scratch_dir=tmp_path / "s")
    here = repo.render("web", namespace="guestbook", helm=options)
    assert isolated == here
    assert isolated.bundle.objects[0]["data"] == {"color": "red", "ns": "guestbook"}


def test_a_render_process_inherits_no_credential_from_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETSYNC_TEST_GIT_PASSWORD", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter3")
    env = _environment(tmp_path, RenderLimits())
    assert not {"hunter2", "hunter3"} & set(env.values())
    assert set(env) <= {
        "HOME",
        "TMPDIR",
        "PATH",
        "LANG",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "HELM_C_LIB",
    }
