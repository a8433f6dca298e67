"""What a render process reads and writes: one JSON request in, one JSON answer out.

The request is the render request and its limits. The answer is exactly one of: the result (the
bundle's objects, the renderer used, the inputs read), a render error (bad input, with its
application, place and problem, and the limit it met if it met one), or a failure that is no one
input's fault. Nothing else crosses: no credential is in a request, none in an answer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    DirectoryOptions,
    HelmOptions,
    JsonnetOptions,
    JsonnetVar,
    RendererKind,
)
from fleetsync.shared.render.request import (
    Limit,
    RenderError,
    RenderLimitExceeded,
    RenderLimits,
    RenderRequest,
    RenderResult,
)


class WireError(ValueError):
    """A message that is not what the other side writes."""


def encode_request(request: RenderRequest, limits: RenderLimits) -> bytes:
    helm = request.helm
    return json.dumps(
        {
            "request": {
                "root": str(request.root),
                "path": request.path,
                "app": request.app,
                "renderer": request.renderer.value,
                "namespace": request.namespace,
                "helm": {
                    "release": helm.release,
                    "values": helm.values,
                    "values_files": list(helm.values_files),
                },
                "directory": asdict(request.directory),
                "jsonnet": asdict(request.jsonnet),
                "allow_empty": request.allow_empty,
            },
            "limits": asdict(limits),
        }
    ).encode()


def decode_request(data: bytes) -> tuple[RenderRequest, RenderLimits]:
    try:
        message = json.loads(data)
        raw, helm = message["request"], message["request"]["helm"]
        request = RenderRequest(
            root=Path(raw["root"]),
            path=str(raw["path"]),
            app=str(raw["app"]),
            renderer=RendererKind(raw["renderer"]),
            namespace=raw["namespace"],
            helm=HelmOptions(
                release=helm["release"],
                values=dict(helm["values"]),
                values_files=tuple(helm["values_files"]),
            ),
            directory=_directory(raw["directory"]),
            jsonnet=_jsonnet(raw["jsonnet"]),
            allow_empty=bool(raw["allow_empty"]),
        )
        known = {f.name for f in fields(RenderLimits)}
        limits = RenderLimits(**{k: v for k, v in message["limits"].items() if k in known})
    except (ValueError, KeyError, TypeError) as exc:
        raise WireError(f"not a render request: {exc}") from exc
    return request, limits


def _directory(raw: Any) -> DirectoryOptions:
    return DirectoryOptions(
        recurse=bool(raw["recurse"]),
        include=tuple(str(g) for g in raw["include"]),
        exclude=tuple(str(g) for g in raw["exclude"]),
        strict=bool(raw["strict"]),
    )


def _jsonnet(raw: Any) -> JsonnetOptions:
    def variables(items: Any) -> tuple[JsonnetVar, ...]:
        return tuple(JsonnetVar(str(v["name"]), str(v["value"]), bool(v["code"])) for v in items)

    return JsonnetOptions(
        ext_vars=variables(raw["ext_vars"]),
        tlas=variables(raw["tlas"]),
        libs=tuple(str(lib) for lib in raw["libs"]),
    )


def encode_result(result: RenderResult) -> bytes:
    return json.dumps(
        {
            "result": {
                "renderer": result.renderer.value,
                "inputs": list(result.inputs),
                "objects": list(result.bundle.objects),
                "sources": list(result.bundle.sources),
                "warnings": list(result.warnings),
            }
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def encode_error(error: PermanentError) -> bytes:
    if isinstance(error, RenderError):
        limit = error.limit.value if isinstance(error, RenderLimitExceeded) else None
        body: dict[str, Any] = {
            "app": error.app,
            "where": error.where,
            "problem": error.problem,
            "limit": limit,
        }
        return json.dumps({"error": body}).encode()
    return json.dumps({"failure": str(error)}).encode()


def decode_answer(data: bytes) -> RenderResult:
    """The result in an answer; raises the render error or failure it carries instead."""
    try:
        message = json.loads(data)
        if "result" in message:
            raw = message["result"]
            return RenderResult(
                bundle=Bundle.of(raw["objects"], raw.get("sources") or None),
                renderer=RendererKind(raw["renderer"]),
                inputs=tuple(str(i) for i in raw["inputs"]),
                warnings=tuple(str(w) for w in raw.get("warnings") or ()),
            )
        if "error" in message:
            raw = message["error"]
            app, where, problem = str(raw["app"]), str(raw["where"]), str(raw["problem"])
            limit = raw.get("limit")
            error: PermanentError = (
                RenderLimitExceeded(app, where, problem, limit=Limit(limit))
                if limit
                else RenderError(app, where, problem)
            )
        else:
            error = PermanentError(str(message["failure"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WireError(f"not a render answer: {exc}") from exc
    raise error
