"""Answer-by-answer comparison of kubesim with a real kube-apiserver.

A `Server` sends raw requests (any method, body, content type, Accept) with a kubeconfig's
credentials and returns an `Answer`: status code, decoded body and Warning headers. `normalize`
makes two servers' answers comparable: uids and resourceVersions become tokens numbered by first
appearance (so that "the same object", "the resourceVersion did not move" and "it moved" still
compare, but not the values), timestamps and cluster IPs become placeholders, managedFields are
sorted. A `Twin` runs the same request on kubesim and on the real server, in a namespace of the
same name on both, and asserts the normalized answers are equal.
"""

from __future__ import annotations

import difflib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import config
from kubernetes.client import ApiClient

TIME_KEYS = frozenset(
    {
        "creationTimestamp",
        "deletionTimestamp",
        "time",
        "lastTransitionTime",
        "lastUpdateTime",
        "startTime",
        "completionTime",
        "lastProbeTime",
        "lastHeartbeatTime",
        "lastScheduleTime",
    }
)
"""Keys whose string values are instants (compared as present or absent only)."""

UID_KEYS = frozenset({"uid", "controller-uid", "batch.kubernetes.io/controller-uid"})
"""Keys whose string values are uids (a Job's generated selector and labels hold its own)."""

_WARNING = re.compile(r'^\s*\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Answer:
    code: int
    body: Any
    warnings: tuple[str, ...] = ()
    content_type: str = ""

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", "")) if isinstance(self.body, Mapping) else ""

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, Mapping) else ""


def parse_warnings(values: Iterable[str]) -> tuple[str, ...]:
    """The texts of `Warning: 299 - "text"` headers (several may share one header line)."""
    out: list[str] = []
    for value in values:
        rest = value
        while rest.strip():
            m = _WARNING.match(rest)
            if m is None:
                break
            out.append(json.loads(f'"{m.group(1)}"'))
            rest = rest[m.end() :].lstrip().lstrip(",")
    return tuple(out)


class Server:
    """One API server reached with a kubeconfig's credentials, for raw requests."""

    def __init__(self, name: str, kubeconfig: Path) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self.api: ApiClient = config.new_client_from_config(config_file=str(kubeconfig))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 30.0,
        stream: bool = False,
    ) -> Answer:
        conf = self.api.configuration
        headers = {"Accept": accept, "User-Agent": "kubesim-contract/1.0"}
        token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
        if token:
            headers["Authorization"] = token
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        resp = self.api.rest_client.pool_manager.request(
            method,
            conf.host + path,
            body=data,
            headers=headers,
            timeout=timeout,
            preload_content=True,
        )
        raw = resp.data
        ctype = resp.headers.get("Content-Type", "")
        if stream:
            payload: Any = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = {"raw": raw.decode(errors="replace")}
        return Answer(resp.status, payload, parse_warnings(resp.headers.getlist("Warning")), ctype)


@dataclass
class Normalizer:
    """Tokens for one server's uids and resourceVersions, numbered by first appearance."""

    uids: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def uid(self, value: str) -> str:
        return self.uids.setdefault(value, f"<uid{len(self.uids) + 1}>")

    def version(self, value: str) -> str:
        return self.versions.setdefault(value, f"<rv{len(self.versions) + 1}>")

    def __call__(self, value: Any) -> Any:
        return self._walk(value, ())

    def _walk(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            is_list = str(value.get("kind", "")).endswith("List") and "items" in value
            out = {}
            for k, v in sorted(value.items()):  # tokens numbered in a server-independent order
                here = (*path, k)
                if k.startswith("k:{") and '"uid":' in k:
                    key = json.loads(k[2:])
                    k = "k:" + json.dumps(
                        {**key, "uid": self.uid(key["uid"])}, separators=(",", ":")
                    )
                if (
                    k == "metadata"
                    and isinstance(v, Mapping)
                    and (is_list or value.get("kind") == "Status")
                ):
                    out[k] = {
                        mk: ("<list-rv>" if mk == "resourceVersion" else mv) for mk, mv in v.items()
                    }
                    continue
                if isinstance(v, str) and k in UID_KEYS:
                    out[k] = self.uid(v)
                elif isinstance(v, str) and k == "resourceVersion":
                    out[k] = self.version(v)
                elif isinstance(v, str) and k in TIME_KEYS:
                    out[k] = "<time>"
                elif k in ("clusterIP", "clusterIPs") and v not in (None, "None", ["None"]):
                    out[k] = "<ip>"
                elif k == "managedFields" and isinstance(v, list):
                    out[k] = sorted((self._walk(e, here) for e in v), key=_entry_key)
                else:
                    out[k] = self._walk(v, here)
            return out
        if isinstance(value, list):
            return [self._walk(v, path) for v in value]
        return value


def _entry_key(entry: Any) -> tuple[str, str, str]:
    if not isinstance(entry, Mapping):
        return ("", "", "")
    return (
        str(entry.get("manager")),
        str(entry.get("operation")),
        str(entry.get("subresource", "")),
    )


View = Callable[[Answer], Any]


def full(answer: Answer) -> Any:
    """Everything a client reads of an answer: code, body and warnings."""
    return {"code": answer.code, "body": answer.body, "warnings": list(answer.warnings)}


def status_view(answer: Answer) -> Any:
    """A failure's code, reason, message and details (causes sorted), or the success object."""
    body = answer.body if isinstance(answer.body, Mapping) else {}
    if body.get("kind") != "Status":
        return full(answer)
    details = dict(body.get("details") or {})
    if "causes" in details:
        details["causes"] = sorted(details["causes"], key=lambda c: json.dumps(c, sort_keys=True))
    return {
        "code": answer.code,
        "reason": body.get("reason"),
        "message": body.get("message"),
        "details": details,
        "warnings": list(answer.warnings),
    }


def any_cause_order(answer: Answer) -> Any:
    """`status_view` for refusals whose causes the server lists in no stable order (Go's map
    order over a custom resource's properties): a message that lists every cause once, in any
    order, reads as if they were sorted."""
    view = status_view(answer)
    causes = view.get("details", {}).get("causes") if "message" in view else None
    message = str(view.get("message", ""))
    if not causes or len(causes) < 2 or not message.endswith("]"):
        return view
    parts = sorted(
        f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes
    )
    head, _, listed = message.partition(": [")
    rest = listed[:-1]
    for part in sorted(parts, key=len, reverse=True):
        rest = rest.replace(part, "", 1)
    if rest == ", " * (len(parts) - 1):
        view["message"] = f"{head}: [" + ", ".join(parts) + "]"
    return view


class Twin:
    """kubesim and a real server side by side, each with a namespace of the same name."""

    def __init__(self, sim: Server, real: Server, namespace: str | None = None) -> None:
        self.sim = sim
        self.real = real
        self.namespace = namespace or f"tw-{uuid.uuid4().hex[:10]}"
        self.norms = {sim.name: Normalizer(), real.name: Normalizer()}

    def servers(self) -> tuple[Server, Server]:
        return (self.sim, self.real)

    def path(self, path: str) -> str:
        return path.replace("{ns}", self.namespace)

    def each(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[Answer, Answer]:
        """The same request on kubesim and on the real server: (kubesim's, real's) answers."""
        answers = []
        for server in self.servers():
            raw = server.request(method, self.path(path), _subst(body, self.namespace), **kw)
            answers.append(
                Answer(raw.code, self.norms[server.name](raw.body), raw.warnings, raw.content_type)
            )
        return answers[0], answers[1]

    def same(
        self, method: str, path: str, body: Any = None, *, view: View = full, **kw: Any
    ) -> Answer:
        """Send to both, assert the views of the normalized answers are equal; real's answer."""
        sim, real = self.each(method, path, body, **kw)
        assert view(sim) == view(real), (
            f"{method} {path}: kubesim and the real server answer differently\n"
            + difference(view(sim), view(real))
        )
        return real

    def setup(self) -> None:
        """Create the namespace on both; wait until the real control plane has filled it."""
        for server in self.servers():
            answer = server.request(
                "POST",
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}},
            )
            assert answer.code == 201, (server.name, answer)
        for server in self.servers():
            path = f"/api/v1/namespaces/{self.namespace}/configmaps/kube-root-ca.crt"
            deadline = time.monotonic() + 30
            while server.request("GET", path).code != 200:
                assert time.monotonic() < deadline, f"{server.name}: {path} never appeared"
                time.sleep(0.05)

    def teardown(self) -> None:
        for server in self.servers():
            server.request("DELETE", f"/api/v1/namespaces/{self.namespace}")


def difference(sim: Any, real: Any) -> str:
    """A unified diff from kubesim's view to the real server's."""

    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=1, sort_keys=True).splitlines()

    return "\n".join(
        difflib.unified_diff(lines(sim), lines(real), "kubesim", "real", lineterm="", n=4)
    )


def _subst(body: Any, namespace: str) -> Any:
    if isinstance(body, str):
        return body.replace("{ns}", namespace)
    if isinstance(body, Mapping):
        return {k: _subst(v, namespace) for k, v in body.items()}
    if isinstance(body, list):
        return [_subst(v, namespace) for v in body]
    return body


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def crd_manifest(
    *,
    group: str,
    kind: str,
    plural: str,
    schema: Mapping[str, Any],
    printer_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A namespaced CustomResourceDefinition of `kind` in `group`: one version, v1, served and
    stored, with `schema` (and `printer_columns` as its additionalPrinterColumns)."""
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if printer_columns is not None:
        version["additionalPrinterColumns"] = printer_columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [version],
        },
    }


@contextmanager
def served_crd(
    twin: Twin, *, group: str, kind: str, plural: str, schema: Mapping[str, Any]
) -> Iterator[str]:
    """A namespaced CustomResourceDefinition of `kind` in `group` (one version, v1, with
    `schema`), created alike on both servers; yields its objects' namespaced collection path
    (`{ns}` for the namespace) once both serve it, and deletes it from both afterwards."""
    crd = crd_manifest(group=group, kind=kind, plural=plural, schema=schema)
    twin.same("POST", CRDS, crd, view=lambda a: a.code)
    path = f"/apis/{group}/v1/namespaces/{{ns}}/{plural}"
    deadline = time.monotonic() + 30
    while any(a.code != 200 for a in twin.each("GET", path)):
        assert time.monotonic() < deadline, "the CRD was never served"
        time.sleep(0.1)
    try:
        yield path
    finally:
        for server in twin.servers():
            server.request("DELETE", f"{CRDS}/{plural}.{group}")
