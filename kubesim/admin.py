"""The admin endpoint under `/_kubesim/`: clusters, faults, controllers and request counters.

It lets another process (a benchmark, a demo script) drive a running kubesim:

    GET    /_kubesim/clusters                      names, servers, object counts, knobs
    POST   /_kubesim/clusters            {"name"}  add a cluster
    DELETE /_kubesim/clusters/<name>               remove it
    GET|PUT|DELETE /_kubesim/clusters/<name>/faults       FaultSettings as JSON (with
                   "forbidden_lists": [["configmaps", ""], ["secrets", "web"]]: LISTs refused;
                   "forbidden_deletes": the same pairs, DELETEs of one object refused ("" for
                   everywhere); "forbidden_writes": the same, its writes refused (create,
                   update, patch, apply);
                   "watches": "serve" | "forbid" (403) | "close" (ended at once))
    GET|PUT        /_kubesim/clusters/<name>/controllers  ControllerSettings as JSON (with
                   "crd_established_delay": seconds before a new CRD is Established,
                   "job_result": "complete", "fail" or "run": how Jobs and Pods that run
                   to completion end)
    GET|DELETE     /_kubesim/clusters/<name>/requests     counters by verb and resource, log
    POST           /_kubesim/clusters/<name>/compact      compact the history (as etcd's
                   periodic compaction): older watches and list continuations get 410
    GET|DELETE     /_kubesim/requests                     counters summed over every cluster
    GET|DELETE     /_kubesim/connections                  client connections to the server
                   (every cluster's): {"accepted": since the start or the DELETE, "open": now}
    PUT|DELETE     /_kubesim/faults                       set or clear faults on every cluster
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from kubesim.cluster import Cluster
from kubesim.faults import (
    NO_FAULTS,
    ControllerSettings,
    FaultSettings,
    RequestLog,
    settings_from_mapping,
)
from kubesim.fleet import Fleet
from kubesim.httpserver import Request, Response


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, separators=(",", ":")).encode())


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


def counts_body(counts: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [{"verb": v, "resource": r, "count": n} for (v, r), n in sorted(counts.items())]


def cluster_summary(fleet: Fleet, cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "server": fleet.server_url(cluster.name),
        "kubeconfig": str(fleet.kubeconfig_dir / f"{cluster.name}.kubeconfig"),
        "objects": cluster.store.count(),
        "faults": cluster.faults.to_dict(),
        "controllers": cluster.controllers.to_dict(),
    }


def _body(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    value = json.loads(req.body)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


class Admin:
    """Request handler for the admin endpoint of one fleet."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def __call__(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")[1:]
        try:
            return self._route(req, parts)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")

    def _route(self, req: Request, parts: list[str]) -> Response:
        m = req.method
        fleet = self.fleet
        if parts == ["clusters"]:
            if m == "GET":
                return _json(
                    200,
                    {"clusters": [cluster_summary(fleet, c) for c in fleet.api.clusters.values()]},
                )
            if m == "POST":
                cluster = fleet.add(str(_body(req)["name"]))
                return _json(201, cluster_summary(fleet, cluster))
        if parts == ["requests"]:
            if m == "DELETE":
                for c in fleet.api.clusters.values():
                    c.requests = RequestLog()
                return _json(200, {})
            total: Counter[tuple[str, str]] = Counter()
            for c in fleet.api.clusters.values():
                total.update(c.requests.counts())
            return _json(200, {"counts": counts_body(dict(total)), "total": sum(total.values())})
        if parts == ["connections"] and m in ("GET", "DELETE"):
            connections = fleet.api.connections
            if m == "DELETE":
                connections.accepted = 0
            return _json(200, {"accepted": connections.accepted, "open": connections.open})
        if parts == ["faults"] and m in ("PUT", "DELETE"):
            faults = (
                NO_FAULTS
                if m == "DELETE"
                else settings_from_mapping(FaultSettings, NO_FAULTS, _body(req))
            )
            for c in fleet.api.clusters.values():
                c.faults = faults
            return _json(200, faults.to_dict())
        if len(parts) >= 2 and parts[0] == "clusters":
            cluster = fleet.get(parts[1])
            return self._cluster(req, cluster, parts[2:])
        return _error(404, f"no admin route {req.method} {req.path}")

    def _cluster(self, req: Request, cluster: Cluster, rest: list[str]) -> Response:
        m = req.method
        if not rest:
            if m == "DELETE":
                self.fleet.remove(cluster.name)
                return _json(200, {"removed": cluster.name})
            return _json(200, cluster_summary(self.fleet, cluster))
        if rest == ["faults"]:
            if m == "PUT":
                cluster.faults = settings_from_mapping(FaultSettings, NO_FAULTS, _body(req))
            elif m == "PATCH":
                cluster.faults = settings_from_mapping(FaultSettings, cluster.faults, _body(req))
            elif m == "DELETE":
                cluster.faults = NO_FAULTS
            return _json(200, cluster.faults.to_dict())
        if rest == ["controllers"]:
            if m in ("PUT", "PATCH"):
                cluster.controllers = settings_from_mapping(
                    ControllerSettings,
                    cluster.controllers if m == "PATCH" else ControllerSettings(),
                    _body(req),
                )
            return _json(200, cluster.controllers.to_dict())
        if rest == ["compact"] and m == "POST":
            return _json(200, {"revision": cluster.store.compact()})
        if rest == ["requests"]:
            if m == "DELETE":
                cluster.requests.reset()
                return _json(200, {})
            return _json(
                200,
                {
                    "counts": counts_body(cluster.requests.counts()),
                    "log": [r.to_dict() for r in cluster.requests.records()],
                },
            )
        return _error(404, f"no admin route {req.method} {req.path}")
