"""From an HTTP request to a verb on a cluster: URL parsing, auth, faults, counters, errors.

`ApiServer.handle` is the HTTP application. A request to `/clusters/<name>/...` is served by that
cluster: its bearer token is checked, its injected faults are played, the request is counted
(a write sent with `dryRun` under its own `<verb>-dry-run` counter), the URL is resolved against
its types, and the verb's result or error is serialized. Requests under `/_kubesim/` go to the
admin API (see `admin`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kubesim import openapi, tables, verbs
from kubesim.bodies import MAX_BODY_BYTES, decode_json
from kubesim.cluster import CRD_KEY, Cluster
from kubesim.discovery import discovery_document, version_document
from kubesim.errors import (
    ApiError,
    Reason,
    bad_request,
    forbidden,
    method_not_allowed,
    no_such_path,
    too_large,
)
from kubesim.faults import DownMode, RequestRecord
from kubesim.flags import query_flag
from kubesim.httpserver import DROP, Connections, Outcome, Request, Response
from kubesim.validation import field_validation
from kubesim.verbs import Target, WriteOptions

log = logging.getLogger(__name__)

CLUSTER_PREFIX = "/clusters/"
ADMIN_PREFIX = "/_kubesim/"
_ERROR_REASONS = {
    429: Reason.TOO_MANY_REQUESTS,
    500: Reason.INTERNAL_ERROR,
    503: Reason.SERVICE_UNAVAILABLE,
}
_HEALTH = ("/healthz", "/livez", "/readyz")
SIMULATED_USER = "system:serviceaccount:fleetsync:fleetsync"
HOLD_POLL = 0.005
"""Seconds between two looks of a held request at its cluster's `hold` fault."""
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _dump(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def error_response(err: ApiError, warnings: list[str] | None = None) -> Response:
    headers = {**err.headers, **warning_headers(warnings or [])}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return Response(err.code, _dump(err.status()), "application/json", headers)


_RBAC_VERBS = {"apply": "patch"}
"""The RBAC verb of a request's verb where the two differ (a server-side apply is a patch)."""


def rbac_forbidden(t: Target, verb: str) -> ApiError:
    """RBAC's refusal of a request of `verb` (the `forbidden_lists`, `forbidden_deletes`,
    `forbidden_writes` and `watches: forbid` faults), worded as a real API server words it."""
    where = f'in the namespace "{t.ns}"' if t.ns else "at the cluster scope"
    named = f' "{t.name}"' if t.name else ""
    return forbidden(
        f'{t.rtype.resource}{named} is forbidden: User "{SIMULATED_USER}" cannot '
        f'{_RBAC_VERBS.get(verb, verb)} resource "{t.rtype.resource}" in API group '
        f'"{t.rtype.group}" {where}',
        kind=t.rtype.resource,
        group=t.rtype.group,
        name=t.name or "",
    )


def warning_headers(warnings: list[str]) -> dict[str, str]:
    """The `Warning` header carrying every warning (`299 - "text"`, comma-separated)."""
    if not warnings:
        return {}
    return {"Warning": ", ".join(f"299 - {json.dumps(w)}" for w in warnings)}


def _as_table(cluster: Cluster, t: Target, body: dict[str, Any], *, listed: bool) -> dict[str, Any]:
    """A get or list answer as the Table `kubectl get` asks for."""
    crd = (
        cluster.store.get(CRD_KEY, "", f"{t.rtype.resource}.{t.rtype.group}")
        if (cluster.crd_type(t.key) is not None)
        else None
    )
    columns = (
        tables.crd_columns(crd, t.version) if crd is not None else tables.builtin_columns(t.rtype)
    )
    objects = body["items"] if listed else [body]
    meta = (
        body["metadata"]
        if listed
        else {"resourceVersion": body["metadata"].get("resourceVersion", "")}
    )
    return tables.table(columns, t.rtype, objects, meta)


def _body(req: Request, t: Target) -> Any:
    return decode_json(req.body, req.header("content-type"), t.rtype.kind, t.version)


class ApiServer:
    """The HTTP application serving every simulated cluster of one process."""

    def __init__(self, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.clusters: dict[str, Cluster] = {}
        self.max_body = max_body
        self.random = random.Random()
        self.admin: Callable[[Request], Response] | None = None
        self.watch: Callable[[Cluster, Target, Mapping[str, str]], Awaitable[Outcome]] | None = None
        self.connections = Connections()
        """The clients' connections to the server serving this application (every cluster's)."""

    def handle(self, req: Request) -> Response | Awaitable[Outcome]:
        path = req.path
        if path.startswith(CLUSTER_PREFIX):
            name, _, rest = path[len(CLUSTER_PREFIX) :].partition("/")
            cluster = self.clusters.get(name)
            if cluster is None:
                return error_response(no_such_path())
            return self._serve_cluster(cluster, req, "/" + rest)
        if path.startswith(ADMIN_PREFIX) and self.admin is not None:
            return self.admin(req)
        if path in _HEALTH:
            return Response(200, b"ok", "text/plain")
        return error_response(no_such_path())

    def _serve_cluster(
        self, cluster: Cluster, req: Request, rest: str
    ) -> Response | Awaitable[Outcome]:
        auth = req.header("authorization")
        if (auth and auth != f"Bearer {cluster.token}") or cluster.faults.unauthorized:
            self._count(cluster, req, rest, 401)
            return error_response(ApiError(401, Reason.UNAUTHORIZED, "Unauthorized"))
        if cluster.faults.active:
            return self._with_faults(cluster, req, rest)
        return self._serve(cluster, req, rest)

    async def _with_faults(self, cluster: Cluster, req: Request, rest: str) -> Outcome:
        faults = cluster.faults
        if faults.hold:
            cluster.held += 1
            try:
                while cluster.faults.hold:
                    await asyncio.sleep(HOLD_POLL)
            finally:
                cluster.held -= 1
            answer = self._serve_cluster(cluster, req, rest)  # the faults set now
            return answer if isinstance(answer, Response) else await answer
        if faults.down:
            self._count(cluster, req, rest, 0)
            if faults.down_mode is DownMode.HANG:
                await asyncio.Event().wait()
            return DROP
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.forbidden:
            self._count(cluster, req, rest, 403)
            return error_response(
                forbidden(
                    f'User "{SIMULATED_USER}" cannot {req.method.lower()} '
                    f"{rest} in cluster {cluster.name}: access denied (simulated)"
                )
            )
        if faults.error_rate and self.random.random() < faults.error_rate:
            code = faults.error_code
            self._count(cluster, req, rest, code)
            retry = 1 if code in (429, 503) else None
            return error_response(
                ApiError(
                    code, _ERROR_REASONS[code], f"simulated failure ({code})", retry_after=retry
                )
            )
        result = self._serve(cluster, req, rest)
        if isinstance(result, Response):
            return result
        return await result

    def _count(
        self,
        cluster: Cluster,
        req: Request,
        rest: str,
        code: int,
        verb: str = "",
        resource: str = "",
        namespace: str = "",
        name: str = "",
    ) -> None:
        dry_run = req.method in _WRITE_METHODS and bool(req.query.get("dryRun"))
        cluster.requests.record(
            RequestRecord(
                time.time(),
                verb or req.method.lower(),
                resource or rest,
                namespace,
                name,
                code,
                dry_run,
            )
        )

    def _serve(self, cluster: Cluster, req: Request, rest: str) -> Response | Awaitable[Outcome]:
        if rest.rstrip("/") == "/version":
            self._count(cluster, req, rest, 200, "get", "version")
            return Response(200, version_document())
        if rest in _HEALTH:
            return Response(200, b"ok", "text/plain")
        if rest.startswith("/openapi/v3"):
            return self._openapi(cluster, req, rest)
        parts = rest.strip("/").split("/")
        if parts[0] == "api":
            group, version, rem = "", parts[1] if len(parts) > 1 else "", parts[2:]
        elif parts[0] == "apis" and len(parts) > 2:
            group, version, rem = parts[1], parts[2], parts[3:]
        else:
            group, version, rem = "", "", []
        if not rem:
            doc = (
                discovery_document(cluster.types, rest.rstrip("/")) if req.method == "GET" else None
            )
            self._count(cluster, req, rest, 200 if doc else 404, "get", "discovery")
            if doc is None:
                return error_response(no_such_path())
            return Response(200, doc)
        try:
            target = self._target(cluster, group, version, rem)
        except ApiError as err:
            self._count(cluster, req, rest, err.code)
            return error_response(err)
        verb = self._verb(req, target)
        resource = target.rtype.resource + (f"/{target.subresource}" if target.subresource else "")
        if verb == "list" and cluster.faults.lists_forbidden(target.rtype.resource, target.ns):
            self._count(cluster, req, rest, 403, verb, resource, target.ns)
            return error_response(rbac_forbidden(target, verb))
        if verb == "delete" and cluster.faults.deletes_forbidden(target.rtype.resource, target.ns):
            self._count(cluster, req, rest, 403, verb, resource, target.ns, target.name or "")
            return error_response(rbac_forbidden(target, verb))
        if verb in ("create", "update", "patch", "apply") and cluster.faults.writes_forbidden(
            target.rtype.resource, target.ns
        ):
            self._count(cluster, req, rest, 403, verb, resource, target.ns, target.name or "")
            return error_response(rbac_forbidden(target, verb))
        if verb == "watch" and cluster.faults.watches == "forbid":
            self._count(cluster, req, rest, 403, verb, resource, target.ns)
            return error_response(rbac_forbidden(target, verb))
        if verb == "watch" and self.watch is not None:
            self._count(cluster, req, rest, 200, verb, resource, target.ns, target.name or "")
            if cluster.faults.watches == "close":
                return Response(200, b"")
            return self.watch(cluster, target, req.query)
        warnings: list[str] = []
        try:
            code, body = self._run_verb(cluster, req, target, verb, warnings)
        except ApiError as err:
            code, response = err.code, error_response(err, warnings)
        except Exception:
            log.exception("kubesim: %s %s failed", req.method, req.path)
            code, response = (
                500,
                error_response(
                    ApiError(500, Reason.INTERNAL_ERROR, "internal error in kubesim (see its log)")
                ),
            )
        else:
            response = Response(code, _dump(body), headers=warning_headers(warnings))
        self._count(cluster, req, rest, code, verb, resource, target.ns, target.name or "")
        return response

    def _openapi(self, cluster: Cluster, req: Request, rest: str) -> Response:
        self._count(cluster, req, rest, 200, "get", "openapi")
        parts = rest.strip("/").split("/")[2:]
        if not parts:
            return Response(
                200, openapi.root_document(cluster.types, f"{CLUSTER_PREFIX}{cluster.name}")
            )
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return error_response(no_such_path())
        if version not in cluster.types.groups().get(group, []):
            return error_response(no_such_path())
        return Response(200, openapi.gv_document(cluster.types, group, version))

    @staticmethod
    def _target(cluster: Cluster, group: str, version: str, rem: list[str]) -> Target:
        table = cluster.types
        namespace: str | None = None
        if rem[0] == "namespaces" and len(rem) >= 3:
            candidate = table.by_path(group, version, rem[2])
            if candidate is not None and candidate.namespaced:
                namespace, rem = rem[1], rem[2:]
        rtype = table.by_path(group, version, rem[0])
        if rtype is None or len(rem) > 3:
            raise no_such_path()
        name = rem[1] if len(rem) > 1 else None
        sub = rem[2] if len(rem) > 2 else ""
        if namespace is not None and not rtype.namespaced:
            raise no_such_path()
        if rtype.namespaced and namespace is None and name is not None:
            raise no_such_path()
        if sub and not (
            (sub == "status" and rtype.has_status)
            or (sub == "scale" and rtype.has_scale)
            or (sub == "finalize" and rtype.kind == "Namespace")
        ):
            raise no_such_path()
        return Target(rtype, version, namespace if rtype.namespaced else "", name, sub)

    @staticmethod
    def _verb(req: Request, t: Target) -> str:
        method = req.method
        if method == "GET":
            if t.name is None:
                return "watch" if query_flag(req.query, "watch") else "list"
            return "get"
        if method == "PATCH":
            ct = req.header("content-type")
            return "apply" if ct.startswith("application/apply-patch") else "patch"
        return {
            "POST": "create",
            "PUT": "update",
            "DELETE": "delete" if t.name is not None else "deletecollection",
        }.get(method, method.lower())

    def _run_verb(
        self, cluster: Cluster, req: Request, t: Target, verb: str, warnings: list[str]
    ) -> tuple[int, dict[str, Any]]:
        if req.body_too_large:
            raise too_large(self.max_body)
        query = req.query
        dry_run = query.get("dryRun", "")
        if dry_run not in ("", "All"):
            raise bad_request(f'Unsupported value: "{dry_run}": supported values: "All"')
        opts = WriteOptions(
            dry_run=dry_run == "All",
            field_manager=query.get("fieldManager", ""),
            force=query_flag(query, "force"),
            field_validation=field_validation(query.get("fieldValidation")),
            warnings=warnings,
        )
        agent = req.header("user-agent")
        if t.subresource == "scale":
            from kubesim.scale import scale_verb

            return scale_verb(cluster, t, verb, req.body, req.header("content-type"), opts, agent)
        if verb in ("get", "list"):
            code, body = (
                verbs.get(cluster, t) if verb == "get" else verbs.list_objects(cluster, t, query)
            )
            if tables.wants_table(req.header("accept")):
                body = _as_table(cluster, t, body, listed=verb == "list")
            return code, body
        if verb == "create":
            if t.name is not None:
                raise method_not_allowed("POST", t.rtype.resource)
            return verbs.create(cluster, t, _body(req, t), opts, agent)
        if verb == "update":
            return verbs.update(cluster, t, _body(req, t), opts, agent)
        if verb in ("patch", "apply"):
            if t.name is None:
                raise method_not_allowed("PATCH", t.rtype.resource)
            return verbs.patch(cluster, t, req.body, req.header("content-type"), opts, agent)
        if verb in ("delete", "deletecollection"):
            options: Any = None
            if req.body:
                try:
                    options = json.loads(req.body)
                except ValueError:
                    raise bad_request("error decoding DeleteOptions") from None
            if verb == "delete":
                return verbs.delete(cluster, t, query, options, opts)
            return verbs.delete_collection(cluster, t, query, options, opts)
        raise method_not_allowed(req.method, t.rtype.resource)
