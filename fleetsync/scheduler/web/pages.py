"""The web view's pages: the fleet matrix (`/`), an application, one application on one cluster
(its objects and their diff), and a revision. Each page has a live part that its script fetches
again from `/ui/...` when the data changed (`?since=<version>` answers 204 when nothing did).

Reads follow the API's read policy: when reads need a token, pages are served as shells and the
script loads their live part with the token the operator entered (kept in sessionStorage).
Actions go to the JSON API with that token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from fleetsync import __version__
from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.rollout_views import freeze_view, rollout_view
from fleetsync.scheduler.views import (
    HEALTH_WORDS,
    STATE_WORDS,
    SYNC_WORDS,
    FilterError,
    MatrixColumn,
    MatrixRow,
    NotFound,
    age,
    application_detail,
    fleet_matrix,
    fleet_version,
    history,
    known_application,
    known_cluster,
    parse_filters,
    revision_views,
    short_revision,
)
from fleetsync.shared.desired import desired_for_pair
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.model.ids import Digest

STATIC = Path(__file__).parent / "static"
SYMBOLS = {
    "Synced": "✓",
    "OutOfSync": "≠",
    "Healthy": "♥",
    "Progressing": "◔",
    "Degraded": "✗",
    "Missing": "∅",
    "Suspended": "‖",
    "Unknown": "?",
}
"""Every state has a symbol as well as a colour, so the matrix reads without colour vision."""
PAGE_SIZES = (25, 50, 100, 200)

_env = Environment(
    loader=PackageLoader("fleetsync.scheduler.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    symbols=SYMBOLS,
    age=age,
    short=short_revision,
    version=__version__,
    sync_words=SYNC_WORDS,
    health_words=HEALTH_WORDS,
    state_words=STATE_WORDS,
    quote=lambda s: quote(str(s), safe=""),
)


def matrix_cells(row: MatrixRow, columns: list[MatrixColumn]) -> Markup:
    """A matrix row's cells as HTML: written here rather than in the template because a page
    holds thousands of them (2,500 at the default page size) and this is several times faster.
    Every value is escaped."""
    app = escape(row.application)
    app_path = quote(row.application, safe="")
    now = time.time()
    parts = []
    for column, cell in zip(columns, row.cells, strict=True):
        cluster = escape(column.cluster)
        if cell is None:
            parts.append(f'<td class="cell none" title="{app} does not target {cluster}"></td>')
            continue
        sync, health = cell.sync.value, cell.health.value
        when = f"updated {age(cell.at, now)} ago" if cell.at else "never reconciled"
        title = (
            f"{app} on {cluster}: {sync}, {health}&#10;revision "
            f"{escape(cell.revision or 'none')}&#10;{when}"
            + (f"&#10;{escape(cell.message)}" if cell.message else "")
        )
        parts.append(
            f'<td class="cell c-{sync} h-{health}" data-sync="{sync}" data-health="{health}" '
            f'title="{title}"><a href="/applications/{app_path}/clusters/'
            f'{quote(column.cluster, safe="")}"><span class="sym">{SYMBOLS[sync]}</span>'
            f'<span class="sym">{SYMBOLS[health]}</span></a></td>'
        )
    return Markup("".join(parts))


def _merge_query(query: Mapping[str, Any], **changes: Any) -> str:
    return urlencode({**query, **changes}, doseq=True)


_env.filters["merge_query"] = _merge_query
_env.globals["matrix_cells"] = matrix_cells


def mount(app: FastAPI, ctx: ApiContext) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(build_router(ctx))


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    reads = [Depends(ctx.guard(Access.READ))]
    locked = ctx.access.read_token_required

    def page(
        request: Request, template: str, live: str, build: Callable[[], dict[str, Any]], title: str
    ) -> HTMLResponse:
        base = {"title": title, "live_url": live, "locked": locked, "flower": ctx.flower_url}
        if locked:
            return _html(template, base)
        try:
            values = build()
        except NotFound as exc:
            return _html("error.html", {**base, "message": str(exc)}, status=404)
        except FilterError as exc:
            return _html("error.html", {**base, "message": str(exc)}, status=400)
        return _html(template, {**base, **values})

    def fragment(
        template: str,
        build: Callable[[], dict[str, Any]],
        since: str | None,
        version: Callable[[], str] | None = None,
    ) -> Response:
        """The live part of a page; 204 when `since` is still its version. A `version`
        function is asked first (it is cheap); without one, the rendered part's digest is the
        version."""
        token = version() if version else None
        if token is not None and since == token:
            return Response(status_code=204, headers={"X-Fleetsync-Version": token})
        try:
            values = build()
        except NotFound as exc:
            return _html("error_live.html", {"message": str(exc)}, status=404)
        except FilterError as exc:
            return _html("error_live.html", {"message": str(exc)}, status=400)
        values["flower"] = ctx.flower_url
        body = _env.get_template(template).render(values)
        token = token or hashlib.sha256(body.encode()).hexdigest()[:16]
        if since == token:
            return Response(status_code=204, headers={"X-Fleetsync-Version": token})
        return HTMLResponse(body, headers={"X-Fleetsync-Version": token})

    # -- the fleet ---------------------------------------------------------------------------

    def fleet_values(params: Mapping[str, Any]) -> dict[str, Any]:
        snapshot = ctx.snapshot()
        filters = parse_filters(
            snapshot.fleet,
            name=params.get("name"),
            selector=params.get("selector"),
            states=params.get("state") or [],
        )
        matrix = fleet_matrix(
            ctx.store,
            snapshot,
            filters,
            offset=params.get("offset", 0),
            limit=params.get("limit", 50),
            cluster_offset=params.get("cluster_offset", 0),
            cluster_limit=params.get("cluster_limit", 50),
        )
        query = {k: v for k, v in params.items() if v not in (None, "", [], 0)}
        return {
            "matrix": matrix,
            "freeze": freeze_view(ctx.store),
            "filters": params,
            "query": query,
            "page_sizes": PAGE_SIZES,
            "fleet_error": ctx.store.fleet_error(),
        }

    @router.get("/", response_class=HTMLResponse)
    def fleet_page(
        request: Request,
        name: str = "",
        selector: str = "",
        state: Annotated[list[str], Query()] = [],  # noqa: B006
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cluster_offset: Annotated[int, Query(ge=0)] = 0,
        cluster_limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> HTMLResponse:
        params = _params(locals())
        live = "/ui/fleet?" + urlencode(_query(params), doseq=True)
        return page(request, "fleet.html", live, lambda: fleet_values(params), "fleet")

    @router.get("/ui/fleet", dependencies=reads)
    def fleet_fragment(
        name: str = "",
        selector: str = "",
        state: Annotated[list[str], Query()] = [],  # noqa: B006
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cluster_offset: Annotated[int, Query(ge=0)] = 0,
        cluster_limit: Annotated[int, Query(ge=1, le=500)] = 50,
        since: str | None = None,
    ) -> Response:
        params = _params({k: v for k, v in locals().items() if k != "since"})
        return fragment(
            "fleet_live.html",
            lambda: fleet_values(params),
            since,
            version=lambda: fleet_version(ctx.store, ctx.snapshot()),
        )

    # -- an application ----------------------------------------------------------------------

    def application_values(name: str) -> dict[str, Any]:
        fleet = ctx.fleet()
        detail = application_detail(ctx.store, fleet, name)
        entries = history(ctx.store, fleet, name, limit=20)
        revisions = list(dict.fromkeys(e.revision for e in entries if e.revision and e.digest))
        return {
            "app": detail,
            "history": entries,
            "revisions": revisions,
            "rollout": rollout_view(ctx.store, fleet, name),
            "freeze": freeze_view(ctx.store),
        }

    @router.get("/applications/{name}", response_class=HTMLResponse)
    def application_page(request: Request, name: str) -> HTMLResponse:
        live = f"/ui/applications/{quote(name, safe='')}"
        return page(request, "application.html", live, lambda: application_values(name), name)

    @router.get("/ui/applications/{name}", dependencies=reads)
    def application_fragment(name: str, since: str | None = None) -> Response:
        return fragment("application_live.html", lambda: application_values(name), since)

    # -- an application on a cluster ---------------------------------------------------------

    def pair_values(name: str, cluster: str) -> dict[str, Any]:
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        known_cluster(fleet, cluster)
        status = ctx.store.status(app, cluster)
        return {
            "app": app,
            "cluster": cluster,
            "status": status,
            "targeted": cluster in fleet.targets_of(app),
            "history": history(ctx.store, fleet, name, cluster, limit=20),
        }

    @router.get("/applications/{name}/clusters/{cluster}", response_class=HTMLResponse)
    def pair_page(request: Request, name: str, cluster: str) -> HTMLResponse:
        live = f"/ui/applications/{quote(name, safe='')}/clusters/{quote(cluster, safe='')}"

        return page(
            request, "pair.html", live, lambda: pair_values(name, cluster), f"{name} on {cluster}"
        )

    @router.get("/ui/applications/{name}/clusters/{cluster}", dependencies=reads)
    def pair_fragment(name: str, cluster: str, since: str | None = None) -> Response:
        return fragment("pair_live.html", lambda: pair_values(name, cluster), since)

    @router.get("/ui/applications/{name}/clusters/{cluster}/objects", dependencies=reads)
    async def objects_fragment(name: str, cluster: str) -> Response:
        diff, error = await run_in_threadpool(_read_diff, ctx, name, cluster)
        return _html("objects.html", {"diff": diff, "diff_error": error})

    # -- a revision --------------------------------------------------------------------------

    def revision_values(revision: str) -> dict[str, Any]:
        views = revision_views(ctx.store, ctx.snapshot(), revision)
        return {"revision": revision, "views": views}

    @router.get("/revisions/{revision:path}", response_class=HTMLResponse)
    def revision_page(request: Request, revision: str) -> HTMLResponse:
        live = f"/ui/revisions/{quote(revision, safe='@:')}"
        return page(request, "revision.html", live, lambda: revision_values(revision), revision)

    @router.get("/ui/revisions/{revision:path}", dependencies=reads)
    def revision_fragment(revision: str, since: str | None = None) -> Response:
        return fragment("revision_live.html", lambda: revision_values(revision), since)

    @router.get("/revision")
    def revision_search(sha: str = "") -> RedirectResponse:
        return RedirectResponse(f"/revisions/{quote(sha.strip(), safe='@:')}", status_code=303)

    return router


def _read_diff(ctx: ApiContext, name: str, cluster: str) -> tuple[Any, str | None]:
    """The pair's objects and diff, or why they could not be read."""
    from fleetsync.scheduler.inspection import inspect_pair

    fleet = ctx.fleet()
    app = known_application(fleet, name)
    target = known_cluster(fleet, cluster)
    if target not in fleet.targets_of(app):
        return None, f"{name} does not target {cluster}"
    chosen = desired_for_pair(ctx.store, app, target)
    digest = chosen.digest if chosen else None
    bundle = ctx.store.get_bundle(Digest(digest)) if digest else None
    if bundle is None:
        return None, "no desired state rendered yet"
    try:
        return (
            inspect_pair(
                fleet,
                app,
                target,
                bundle,
                stored_inventory=ctx.store.inventory(app, target),
                cache_dir=ctx.kube_cache_dir,
            ),
            None,
        )
    except FleetsyncError as exc:
        return None, f"cannot read cluster {cluster}: {exc}"


def _params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "request"}


def _query(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "", [], 0)}


def _html(template: str, values: Mapping[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(values), status_code=status)
