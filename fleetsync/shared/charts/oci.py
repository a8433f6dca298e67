"""OCI registries holding Helm charts (`oci://host/path`), by the OCI distribution API.

A chart NAME of a repository `oci://host/path` is the registry repository `path/NAME`; its
versions are its tags (Helm writes a version's `+` as `_` in a tag). A poll is one tag list
(followed across pages) and one manifest of the chosen tag: the manifest names the chart's
layer (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`), whose digest is the chart
archive's digest; the archive is that blob. Plain HTTP only for a repository marked `insecure`.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from fleetsync.shared.charts.http import Client, MiB, SourceHTTPError, registry_url
from fleetsync.shared.charts.semver import parse_version
from fleetsync.shared.charts.versions import ChartVersion, choose, exact_version, listing
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.urls import display_url

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json"
MAX_TAG_LIST_BYTES = 8 * MiB
MAX_MANIFEST_BYTES = 4 * MiB
MAX_PAGES = 50
_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


def chart_repository(client: Client, chart: str) -> tuple[str, str]:
    """(the registry's base URL `https://host`, the repository path `path/chart`)."""
    parts = urllib.parse.urlsplit(registry_url(client.repository))
    path = "/".join(p for p in (parts.path.strip("/"), chart) if p)
    return f"{parts.scheme}://{parts.netloc}", path


def list_tags(client: Client, chart: str) -> list[str]:
    """Every tag of the chart's registry repository (pages followed, bounded)."""
    base, path = chart_repository(client, chart)
    url = f"{base}/v2/{path}/tags/list?n=1000"
    tags: list[str] = []
    for _ in range(MAX_PAGES):
        try:
            answer = client.get(
                url, max_bytes=MAX_TAG_LIST_BYTES, accept="application/json", what="tag list"
            )
        except SourceHTTPError as exc:
            if exc.status == 404:
                raise PermanentError(
                    f"{client.subject}: chart {chart}: no such repository in the registry "
                    f"({display_url(_oci(client, chart))} has no tags)"
                ) from None
            raise
        data = _json(answer.body, client, url, "tag list")
        page = data.get("tags") or []
        if not isinstance(page, list):
            raise PermanentError(f"{client.subject}: {display_url(url)}: malformed tag list")
        tags += [str(t) for t in page]
        link = _NEXT.search(answer.headers.get("link", ""))
        if not link:
            return tags
        url = urllib.parse.urljoin(url, link.group(1))
    return tags


def find(client: Client, chart: str, wanted: str | None) -> ChartVersion:
    """The chart version `wanted` picks among the tags, with its archive's digest."""
    tags = list_tags(client, chart)
    by_version = {tag.replace("_", "+"): tag for tag in tags}
    where = display_url(_oci(client, chart))
    subject = f"{client.subject}: chart {chart}"
    exact = exact_version(wanted)
    if exact is not None and not _offers(list(by_version), exact):
        raise PermanentError(
            f"{subject}: tag {exact.replace('+', '_')} does not exist at {where}; versions "
            f"there: {listing(list(by_version))}"
        )
    version = choose(list(by_version), wanted, subject=subject, where=where)
    return manifest_version(client, chart, version, by_version[version])


def manifest_version(client: Client, chart: str, version: str, tag: str) -> ChartVersion:
    """The chart archive's digest and blob URL, from the manifest of `tag`."""
    base, path = chart_repository(client, chart)
    url = f"{base}/v2/{path}/manifests/{urllib.parse.quote(tag, safe='')}"
    shown = f"{display_url(_oci(client, chart))}:{tag}"
    try:
        answer = client.get(
            url, max_bytes=MAX_MANIFEST_BYTES, accept=MANIFEST_TYPES, what="manifest"
        )
    except SourceHTTPError as exc:
        if exc.status == 404:
            raise PermanentError(
                f"{client.subject}: chart {chart}: tag {tag} does not exist at {shown}"
            ) from None
        raise
    manifest = _json(answer.body, client, url, "manifest")
    config = manifest.get("config") or {}
    layers = manifest.get("layers") or []
    if not isinstance(config, dict) or config.get("mediaType") != HELM_CONFIG:
        raise PermanentError(
            f"{client.subject}: {shown} is not a Helm chart (its config is "
            f"{config.get('mediaType') if isinstance(config, dict) else None!r}, "
            f"not {HELM_CONFIG})"
        )
    chart_layers = [
        layer
        for layer in layers
        if isinstance(layers, list)
        if isinstance(layer, dict) and layer.get("mediaType") == HELM_CHART_LAYER
    ]
    if len(chart_layers) != 1 or not str(chart_layers[0].get("digest", "")).startswith("sha256:"):
        raise PermanentError(
            f"{client.subject}: {shown}: expected one chart layer ({HELM_CHART_LAYER}) with a "
            "sha256 digest"
        )
    digest = str(chart_layers[0]["digest"])
    return ChartVersion(
        name=chart,
        version=version,
        digest=digest.removeprefix("sha256:"),
        url=f"{base}/v2/{path}/blobs/{digest}",
    )


def _offers(versions: list[str], exact: str) -> bool:
    wanted = parse_version(exact)
    return wanted is not None and any(
        (v := parse_version(text)) is not None and v.key == wanted.key for text in versions
    )


def _oci(client: Client, chart: str) -> str:
    return client.repository.url.rstrip("/") + "/" + chart


def _json(body: bytes, client: Client, url: str, what: str) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise PermanentError(f"{client.subject}: {display_url(url)}: the {what} is not JSON")
    return data
