"""The Helm renderer: the chart at the application path, rendered in-process by the Helm v4 SDK.

Importing this module loads Helm's Go runtime into the process, which must then never fork to
go on running Python (a Go runtime does not survive fork): the fetch worker renders charts in a
render process of its own (see isolation), and never imports this module itself.

The chart is first copied to a temporary directory through the checkout's confinement (a symlink
leading out of the root is an error, sizes are bounded), together with its `file://` dependencies
that charts/ does not already vendor, so Helm loads only what was checked here. Values are the
chart's defaults, then each values file in order, then the inline values (maps merge, the later
wins), as `helm template -f a.yaml -f b.yaml --set ...` composes them. CRDs under crds/ are part of
the bundle; NOTES.txt and templates that render to nothing are not. A render never fetches
anything: dependencies on chart repositories and OCI registries are fetched by the fetch worker
into charts/ before the render starts (shared.charts.dependencies), and are loaded from there
like vendored ones.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import helm_python

from fleetsync.shared.model.declaration import HelmOptions
from fleetsync.shared.render.documents import (
    Document,
    Rendered,
    parse_documents,
    parse_mapping,
)
from fleetsync.shared.render.request import Limit, RenderError, RenderLimitExceeded, size_text
from fleetsync.shared.render.safety import Checkout

_TEMPLATE = re.compile(r"[\w.-]+(?:/[\w.-]+)*/templates/[^\s:\"()]+(?::\d+)?")


def render_helm(
    checkout: Checkout,
    directory: Path,
    *,
    path: str,
    options: HelmOptions,
    namespace: str | None,
) -> Rendered:
    """The objects the chart in `directory` (the application `path`) renders."""
    where = posixpath.normpath(path)
    release = options.release or checkout.app
    try:
        helm_python.validate_release_name(release)
    except helm_python.HelmError as exc:
        raise checkout.error(where, f"invalid Helm release name {release!r}: {exc}") from exc
    values, values_inputs = _values(checkout, directory, options, where=where)
    with tempfile.TemporaryDirectory(prefix="fleetsync-helm-") as temporary:
        staged = Path(temporary) / "chart"
        try:
            inputs = _stage(checkout, directory, staged, visiting=frozenset())
            with helm_python.Chart.load(staged) as chart:
                _check_dependencies(checkout, chart, where=where)
                crds = chart.crds
                manifests = chart.render(values, name=release, namespace=namespace)
        except helm_python.HelmError as exc:
            raise _error(checkout, exc, staged=staged, where=where) from exc
    rendered = [(c["filename"], c["data"]) for c in sorted(crds, key=lambda c: c["filename"])]
    rendered += [
        (template, text)
        for template, text in sorted(manifests.items())
        if not template.endswith("NOTES.txt") and text.strip()
    ]
    size = sum(len(text.encode()) for _, text in rendered)
    if size > checkout.limits.max_output_bytes:
        raise RenderLimitExceeded.of(
            checkout.app,
            where,
            Limit.OUTPUT,
            checkout.limits,
            detail=f"the chart renders {size_text(size)}",
        )
    documents: list[Document] = []
    for source, text in rendered:
        file = _repository_file(where, source)
        documents += [
            replace(document, file=file)
            for document in parse_documents(
                text, source=source, app=checkout.app, limits=checkout.limits
            )
        ]
    return Rendered(documents=tuple(documents), inputs=inputs | values_inputs)


def _repository_file(where: str, template: str) -> str:
    """Where a template (`<chart name>/templates/x.yaml`, `<chart name>/crds/x.yaml`) is in
    the repository: under the chart's path (`where`)."""
    inside = template.partition("/")[2] or template
    return inside if where in (".", "") else posixpath.join(where, inside)


def _values(
    checkout: Checkout, directory: Path, options: HelmOptions, *, where: str
) -> tuple[dict[str, Any], frozenset[str]]:
    """Values files (relative to the chart, inside the root) in order, then inline values."""
    values: dict[str, Any] = {}
    inputs: set[str] = set()
    for name in options.values_files:
        shown = posixpath.normpath(posixpath.join(where, name))
        file = checkout.resolve(directory, name, where=f"{where}: valuesFiles")
        if not file.is_file():
            raise checkout.error(shown, "values file does not exist")
        source = checkout.relative(file)
        text = checkout.read_text(file, where=source)
        values = _merge(
            values, parse_mapping(text, source=source, app=checkout.app, limits=checkout.limits)
        )
        inputs.add(source)
    return _merge(values, options.values), frozenset(inputs)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _stage(
    checkout: Checkout, chart_dir: Path, destination: Path, *, visiting: frozenset[Path]
) -> frozenset[str]:
    """Copy a chart and its unvendored file:// dependencies; return the inputs read."""
    where = checkout.relative(chart_dir)
    if not (chart_dir / "Chart.yaml").is_file():
        raise checkout.error(where, "no Chart.yaml here: not a Helm chart")
    inputs = {where} | checkout.copy_tree(chart_dir, destination, where=where)
    with helm_python.Chart.load(destination) as chart:
        declared = chart.metadata.get("dependencies") or []
        loaded = {d.get("name") for d in chart.dependencies}
    for dependency in declared:
        name = str(dependency.get("name", ""))
        repository = str(dependency.get("repository") or "")
        if name in loaded or not repository.startswith("file://"):
            continue
        source = checkout.resolve(
            chart_dir, repository.removeprefix("file://"), where=f"{where}/Chart.yaml"
        )
        if source in visiting or source == chart_dir:
            raise checkout.error(f"{where}/Chart.yaml", f"dependency {name} is a cycle")
        into = destination / "charts" / name
        if into.exists():
            raise checkout.error(
                f"{where}/charts/{name}", f"holds another chart than dependency {name}"
            )
        inputs |= _stage(checkout, source, into, visiting=visiting | {chart_dir})
    return frozenset(inputs)


def _check_dependencies(checkout: Checkout, chart: helm_python.Chart, *, where: str) -> None:
    """Every declared dependency is loaded: vendored under charts/, a file:// chart staged, or
    one from a chart repository or registry that the fetch worker put under charts/."""
    loaded = {d.get("name") for d in chart.dependencies}
    for dependency in chart.metadata.get("dependencies") or []:
        if dependency.get("name") not in loaded:
            repository = dependency.get("repository") or ""
            source = f" ({repository})" if repository else " (no repository)"
            raise checkout.error(
                f"{where}/Chart.yaml",
                f"dependency {dependency.get('name')}{source} is not under charts/: give it a"
                " repository fleetsync fetches from (https://, oci://, or file:// inside the"
                " repository), or run `helm dependency update` and commit charts/",
            )


def _error(
    checkout: Checkout, exc: helm_python.HelmError, *, staged: Path, where: str
) -> RenderError:
    detail = " ".join(str(exc).replace(str(staged), where).split())
    if isinstance(exc, helm_python.HelmRenderError):
        template = _TEMPLATE.search(detail)
        return checkout.error(template.group(0) if template else where, f"template error: {detail}")
    if isinstance(exc, helm_python.HelmChartLoadError | helm_python.HelmChartInvalidError):
        return checkout.error(where, f"chart cannot be loaded: {detail}")
    if isinstance(exc, helm_python.HelmValuesError):
        return checkout.error(where, f"values rejected: {detail}")
    return checkout.error(where, f"helm failed: {detail}")
