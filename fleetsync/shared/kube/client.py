"""The connection to one cluster: the only place the kubernetes client is driven.

`connect` turns a declared `Cluster` (kubeconfig file + context) into a `ClusterClient`: an
`ApiClient` with a timeout on every request, and a `DynamicClient` whose discovery cache is a file
of its own under `<cache_dir>/<cluster>/`, so clusters never read each other's API lists. Clients
are kept in a small thread-safe LRU keyed by (cluster, kubeconfig, context, kubeconfig mtime): an
apply worker's threads share one client per cluster, and an edited kubeconfig gets a new one.
Each client's connection pool keeps at most `FLEETSYNC_KUBE_CONNECTIONS` connections once they
are free (`keep_connections`): a burst beyond it opens more and closes them after.

`ClusterClient` speaks in values: it resolves an apiVersion + kind to an `ApiResource` through
discovery, and gets, server-side applies and deletes objects given as mappings, returning mappings.
Discovery and watches go through the kubernetes client; gets, lists, applies, creates and deletes
go over the thin path of `transport.py` (the same pool manager, credentials and timeouts, none of
the client's per-request serialization). Failures leave it as fleetsync's two error roots, never
as a kubernetes or urllib3 exception:

- the cluster cannot be reached, times out, answers 429, 502, 503 or 504 (`CLUSTER_STATUS`), or
  answers what is no API answer: `ClusterUnavailable`, a `TransientError` (Retry-After as the
  delay);
- any other 5xx (a 500 from one object's admission webhook that could not be called, one etcd
  key timing out): a plain `TransientError`, retried, the request's failure, not the cluster's;
- 401, a missing or invalid kubeconfig, a TLS failure: `ClusterRefused`, a `PermanentError`
  naming the cluster (and the file), never a token;
- a 403 from authorization (RBAC: "User ... cannot <verb> ...") is `Forbidden`, of one of
  these kinds. On a request about one object (a get, apply, create or delete of it) it is
  `ObjectForbidden`, worded as the object's: "the apply of <key> was forbidden (RBAC: ...): the
  user of kubeconfig K lacks the "patch" verb on <resource> in namespace N: grant it"; the
  credentials work, RBAC refused that one verb there (a multi-tenant cluster whose fleetsync
  user may write some namespaces only), and the sync reports it on the object, the cluster's
  other applications carrying on. On fleetsync's own records (`RECORDS_NAMESPACE`, the claim,
  the inventory copies, the intents) it is `RecordsForbidden` (an `ObjectForbidden`), worded
  the same after the cluster's name: every application needs them. On a LIST in one namespace
  it is `NamespaceForbidden`, that namespace's ("the list of configmaps in namespace N was
  forbidden ..."). On any other request (discovery, a LIST in every namespace, a watch) it is
  `CredentialsForbidden`, "cluster C: credentials refused (403 ...)", so that a caller can fall
  back to narrower requests (a LIST in every namespace refused, LISTs in one namespace allowed);
- any other refusal of one request (422 invalid, 409 conflict, 404 namespace not found, 400, a
  403 from admission such as an exceeded quota or a terminating namespace, and a 500 whose Status
  says the object could not be typed against its schema (`OBJECT_REFUSALS`), which is how a
  server-side apply of a wrong field type or an unknown field is refused): `RequestRejected`, a
  `PermanentError` carrying the server's code, reason, message and causes, which the apply and
  prune verbs report on the object concerned. A broken object is never a cluster outage.

Which failures are the whole cluster's is said by type, not by message: `ClusterUnavailable`,
`ClusterRefused`, `CredentialsForbidden` and `RecordsForbidden` are `ClusterFailure`s
(shared/errors.py); a batch of the cluster's applications stops asking the cluster at the first
one (`Outcome.down`, shared/reconcile_batch.py), and goes on past any other failure.

A watch (`watch`) is a `WatchStream`: decoded events one at a time, each line bounded
(`MAX_WATCH_LINE`), never the whole stream in memory; `close()` from another thread ends it at
once. `list_revision` is the resourceVersion a watch starts from, read with a LIST of one item.

Every apply asks for strict field validation (`fieldValidation=Strict`): a server that would
otherwise drop an unknown field with a warning refuses it, so a typo never becomes drift.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as kube_client
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from fleetsync.shared.errors import ClusterFailure, PermanentError, TransientError
from fleetsync.shared.fast_yaml import safe_load
from fleetsync.shared.kube.ownership import FIELD_MANAGER, RECORDS_NAMESPACE
from fleetsync.shared.kube.transport import NotJson, Query, Refusal, Transport
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.settings import KUBE_CONNECTIONS

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"
CLIENT_CACHE_SIZE = 512
"""The clients a process keeps at least when their number follows the fleet (`fit_clients`), and
all it keeps before it has read a fleet: only clients of clusters it served are held, so a small
fleet's process holds no more for it."""
_CONNECT_WAITED = re.compile(r"connect timeout=([0-9.]+)")
CONNECT_TIMEOUT = 5.0
"""Seconds to make a connection (shorter than a request's whole timeout: a cluster that does not
accept connections is given up on sooner than one that is slow to answer)."""
OBJECT_REFUSALS = (
    "failed to create typed patch object",
    "failed to create typed live object",
)
"""Messages of a 500 that refuses the object sent, not the cluster: the apply could not be typed
against the kind's schema (a wrong field type, an unknown field, a live object the schema no
longer fits)."""
MAX_WATCH_LINE = 8 * 1024 * 1024
"""The longest watch event fleetsync reads (an object is at most ~1.5 MiB in etcd)."""
_AUTHORIZATION_DENIAL = re.compile(r'\bUser "[^"]*" cannot (?P<verb>[a-z]+)')
_VERBS = {"apply": "patch"}
"""The RBAC verb of what fleetsync does, where the two differ (when the server does not name it)."""
CLUSTER_STATUS = (429, 502, 503, 504)
"""Answers that say the API server itself cannot serve now (throttled, or its gateway or
backend down): the whole cluster's. A 500 is the request's (an object's admission webhook that
failed, one etcd key), retried without failing the cluster's other applications."""


class UnknownKindError(PermanentError):
    """The cluster does not serve an apiVersion + kind."""

    def __init__(self, *, cluster: str, api_version: str, kind: str) -> None:
        super().__init__(
            f"kind {kind} ({api_version}) is not served by cluster {cluster}; "
            "install its CRD or add it to the bundle"
        )
        self.api_version = api_version
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Cause:
    """One entry of a Status's `details.causes`: which field, and what is wrong with it."""

    field: str
    reason: str
    message: str


class RequestRejected(PermanentError):
    """The API server refused one request about one object; `message` is the server's reason."""

    def __init__(
        self, *, code: int, reason: str, message: str, causes: tuple[Cause, ...] = ()
    ) -> None:
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes


class ClusterUnavailable(ClusterFailure, TransientError):
    """The cluster cannot serve now: unreachable, a connection or an answer timed out, a 429,
    502, 503 or 504 from the API server itself, an answer that is no API answer. Any request
    would meet it: the whole cluster's, retried with backoff (Retry-After as the delay)."""


class ClusterRefused(ClusterFailure, PermanentError):
    """The cluster cannot be talked to as declared: its kubeconfig is missing or invalid, its
    TLS handshake fails, it refuses the credentials (401). The whole cluster's."""


class Forbidden(PermanentError):
    """Authorization (RBAC) refused a request (403); `detail` is the server's message ("" when
    it gave none). Raised as one of its two kinds: `CredentialsForbidden` (a request not about
    one object) or `ObjectForbidden` (one object's), so that a caller of a LIST can fall back
    to narrower requests (a LIST in every namespace refused, LISTs in one namespace allowed)."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class CredentialsForbidden(ClusterFailure, Forbidden):
    """RBAC refused a request that is not about one object (discovery, a LIST, a watch): what
    the credentials may do on the cluster, so the cluster's failure."""


class ObjectForbidden(Forbidden):
    """Authorization (RBAC) refused a request about one object (get, apply, create, delete):
    the credentials work, their user lacks one verb on the object's resource in its namespace
    (a multi-tenant cluster whose fleetsync user may write some namespaces only). The object's
    failure, not the cluster's: the object is named first, as an object's refusal is, with the
    verb to grant. `doing` is what fleetsync did (apply), `verb` the RBAC verb refused (patch,
    as the server names it). `worded` adds another way out where the caller knows one (prune:
    the annotation that leaves the object in place)."""

    def __init__(
        self,
        *,
        doing: str,
        verb: str,
        key: ResourceKey,
        resource: ApiResource,
        cluster: str,
        kubeconfig: str,
        detail: str,
    ) -> None:
        self.doing = doing
        self.verb = verb
        self.key = key
        self.resource = resource.plural + (f".{resource.group}" if resource.group else "")
        self.cluster = cluster
        self.kubeconfig = kubeconfig
        self.detail = detail
        super().__init__(self.worded(), detail=detail)

    def refusal(self, otherwise: str = "") -> str:
        """What was refused and what to grant, for a message that names the object already:
        'forbidden (RBAC: ...): the user of kubeconfig K lacks the "patch" verb on ...'."""
        return _refusal_text(
            self.detail, self.kubeconfig, self.verb, self.resource, self.key.namespace, otherwise
        )

    def worded(self, otherwise: str = "") -> str:
        return f"the {self.doing} of {self.key} was {self.refusal(otherwise)}"


class NamespaceForbidden(Forbidden):
    """Authorization (RBAC) refused a LIST in one namespace (the hooks of an application's
    namespace, its objects there): that namespace's refusal, like an object's, not the
    cluster's; a LIST in every namespace refused is `CredentialsForbidden`."""

    def __init__(
        self, *, resource: ApiResource, namespace: str, kubeconfig: str, detail: str
    ) -> None:
        plural = resource.plural + (f".{resource.group}" if resource.group else "")
        refused = _refusal_text(detail, kubeconfig, "list", plural, namespace)
        super().__init__(
            f"the list of {plural} in namespace {namespace} was {refused}", detail=detail
        )


def _refusal_text(
    detail: str, kubeconfig: str, verb: str, resource: str, namespace: str, otherwise: str = ""
) -> str:
    where = f"in namespace {namespace}" if namespace else "at the cluster scope"
    return (
        f"forbidden (RBAC: {detail or '403 Forbidden'}): the user of kubeconfig {kubeconfig} "
        f'lacks the "{verb}" verb on {resource} {where}: grant it{otherwise}'
    )


class RecordsForbidden(ClusterFailure, ObjectForbidden):
    """RBAC refused a request about one of fleetsync's own records in `RECORDS_NAMESPACE` (the
    cluster's claim, the inventory copies, the intents' mirrors): every application on the
    cluster needs them, so the cluster's failure, worded as an object's (what to grant) after
    the cluster's name."""

    def worded(self, otherwise: str = "") -> str:
        return f"cluster {self.cluster}: {ObjectForbidden.worded(self, otherwise)}"


@dataclass(frozen=True, slots=True)
class ApiResource:
    """Where objects of one kind live in the API (what discovery says about an apiVersion+kind)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str = "", name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


class ClusterClient:
    """One cluster's API, shared by threads. Built by `connect`; see the module docstring."""

    def __init__(
        self,
        *,
        name: ClusterName,
        kubeconfig: str,
        api_client: Any,
        cache_file: Path,
        transport: Transport | None = None,
    ) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self._api_client = api_client
        self._transport = transport
        self._cache_file = cache_file
        self._lock = threading.RLock()
        self._dynamic_client: Any = None
        self._resolved: dict[tuple[str, str], ApiResource] = {}
        """What `resolve` found, until discovery is invalidated (the discoverer's own search
        walks its whole tree on every call: once per object of every sync)."""

    def __repr__(self) -> str:
        return f"ClusterClient({self.name!r})"

    # -- discovery -------------------------------------------------------------------------

    def resolve(self, api_version: str, kind: str, *, any_version: bool = False) -> ApiResource:
        """The API resource serving `kind` at `api_version`; UnknownKindError if none.

        With `any_version`, a kind whose recorded version is no longer served resolves to the
        version the cluster serves for the same group (prune of objects applied long ago).
        """
        with self._lock, self._translated():
            known = self._resolved.get((api_version, kind))
            if known is not None:
                return known
            resources = self._dynamic().resources
            try:
                found = resources.get(api_version=api_version, kind=kind)
            except (ResourceNotFoundError, ResourceNotUniqueError):
                found = None
                group = api_version.rpartition("/")[0]
                if any_version:
                    matches = [
                        r
                        for r in resources.search(group=group or None, kind=kind)
                        if r.kind == kind and r.group == group and "/" not in r.name
                    ]
                    preferred = [r for r in matches if r.preferred] or matches
                    found = preferred[0] if preferred else None
            if found is None:
                raise UnknownKindError(cluster=self.name, api_version=api_version, kind=kind)
            resource = ApiResource(
                group=str(found.group or ""),
                version=str(found.api_version),
                kind=str(found.kind),
                plural=str(found.name),
                namespaced=bool(found.namespaced),
            )
            if resource.api_version == api_version and resource.kind == kind:
                self._resolved[(api_version, kind)] = resource  # not another version's answer
            return resource

    def invalidate_discovery(self) -> None:
        """Forget the cached API list (after CRDs changed); the next resolve discovers again."""
        with self._lock, self._translated():
            self._resolved.clear()
            if self._dynamic_client is not None:
                self._dynamic_client.resources.invalidate_cache()

    # -- verbs -----------------------------------------------------------------------------

    def get(self, resource: ApiResource, *, name: str, namespace: str = "") -> Manifest | None:
        """The live object, or None when it does not exist."""
        try:
            with self._about("get", resource, name=name, namespace=namespace):
                result: Manifest = self._send("GET", resource.path(namespace=namespace, name=name))
        except RequestRejected as e:
            if e.code == 404:
                return None
            raise
        return result

    def list(
        self, resource: ApiResource, *, namespace: str = "", label_selector: str = ""
    ) -> list[Manifest]:
        """Objects of one kind, in `namespace` (every namespace when empty), each with its
        apiVersion and kind filled in (list items come without them). Raises `Forbidden` when
        the credentials may not list there: `NamespaceForbidden` in one namespace (not the
        cluster's failure, unless fleetsync's own), `CredentialsForbidden` in every one."""
        query = [("labelSelector", label_selector)] if label_selector else []
        try:
            result = self._send("GET", resource.path(namespace=namespace), query=query)
        except CredentialsForbidden as e:
            if not namespace or not resource.namespaced or namespace == RECORDS_NAMESPACE:
                raise
            raise NamespaceForbidden(
                resource=resource, namespace=namespace, kubeconfig=self.kubeconfig, detail=e.detail
            ) from None
        return [
            {**item, "apiVersion": resource.api_version, "kind": resource.kind}
            for item in (result.get("items") or [])
        ]

    def list_revision(self, resource: ApiResource, *, label_selector: str = "") -> str:
        """The resourceVersion of a LIST of `resource` in every namespace (one item read at
        most): where a watch starts. Raises `Forbidden` when the credentials may not list."""
        query: list[tuple[str, str | int]] = [("limit", 1)]
        if label_selector:
            query.append(("labelSelector", label_selector))
        result = self._send("GET", resource.path(), query=query)
        return str((result.get("metadata") or {}).get("resourceVersion") or "")

    def watch(
        self,
        resource: ApiResource,
        *,
        resource_version: str,
        label_selector: str = "",
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> WatchStream:
        """Open a watch of `resource` in every namespace from `resource_version`; the server
        ends it after `timeout_seconds`. A refusal raises as the other verbs do (`Forbidden`
        for 403); events then come from the stream, an ERROR event included."""
        params: dict[str, Any] = {
            "watch": True,
            "resource_version": resource_version,
            "timeout_seconds": timeout_seconds,
            "_request_timeout": (CONNECT_TIMEOUT, timeout_seconds + 30),
        }
        if label_selector:
            params["label_selector"] = label_selector
        if bookmarks:
            params["allow_watch_bookmarks"] = True
        with self._translated():
            response = self._dynamic().request("get", resource.path(), serialize=False, **params)
        return WatchStream(response, cluster=self.name)

    def apply(
        self, resource: ApiResource, obj: Manifest, *, force: bool, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply `obj` as fleetsync's field manager; the object as the server has it."""
        metadata = obj.get("metadata") or {}
        query: list[tuple[str, str | bool]] = [
            ("fieldValidation", "Strict"),
            ("fieldManager", FIELD_MANAGER),
            ("force", force),
        ]
        if dry_run:
            query.append(("dryRun", "All"))
        namespace = str(metadata.get("namespace") or "")
        path = resource.path(namespace=namespace, name=metadata["name"])
        with self._about("apply", resource, name=metadata["name"], namespace=namespace):
            result: Manifest = self._send(
                "PATCH", path, query=query, body=obj, content_type=APPLY_PATCH
            )
        return result

    def create(self, resource: ApiResource, obj: Manifest) -> Manifest:
        """Create `obj` (a POST: `metadata.generateName` allowed) as fleetsync's field manager;
        the object as the server stored it. A name already taken is RequestRejected 409."""
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        name = str(metadata.get("name") or f"{metadata.get('generateName') or ''}*")
        with self._about("create", resource, name=name, namespace=namespace):
            result: Manifest = self._send(
                "POST",
                resource.path(namespace=namespace),
                query=[("fieldValidation", "Strict"), ("fieldManager", FIELD_MANAGER)],
                body=obj,
            )
        return result

    def delete(
        self,
        resource: ApiResource,
        *,
        name: str,
        namespace: str = "",
        propagation: str = "Background",
    ) -> bool:
        """Delete with `propagation` (Background: dependents follow; Foreground: the object stays,
        being deleted, until its dependents are gone); False when it was already gone."""
        try:
            with self._about("delete", resource, name=name, namespace=namespace):
                self._send(
                    "DELETE",
                    resource.path(namespace=namespace, name=name),
                    query=[("propagationPolicy", propagation)],
                )
        except RequestRejected as e:
            if e.code == 404:
                return False
            raise
        return True

    def close(self) -> None:
        with self._lock:
            self._api_client.close()
            if self._transport is not None:
                self._transport.forget_pool()

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _about(
        self, doing: str, resource: ApiResource, *, name: str, namespace: str
    ) -> Iterator[None]:
        """A request about one object (`doing` it): RBAC's 403 is that object's refusal
        (`ObjectForbidden`, `RecordsForbidden` for fleetsync's own records), not the
        credentials'."""
        try:
            yield
        except Forbidden as e:
            namespace = namespace if resource.namespaced else ""
            denial = _AUTHORIZATION_DENIAL.search(e.detail)
            records = namespace == RECORDS_NAMESPACE or (
                resource.kind == "Namespace" and not resource.group and name == RECORDS_NAMESPACE
            )
            refused = RecordsForbidden if records else ObjectForbidden
            raise refused(
                doing=doing,
                verb=denial.group("verb") if denial else _VERBS.get(doing, doing),
                key=ResourceKey(
                    group=resource.group, kind=resource.kind, namespace=namespace, name=name
                ),
                resource=resource,
                cluster=self.name,
                kubeconfig=self.kubeconfig,
                detail=e.detail,
            ) from None

    def _dynamic(self) -> Any:
        """The DynamicClient, built on first use (its construction already talks to the cluster)."""
        with self._lock:
            if self._dynamic_client is None:
                self._cache_file.parent.mkdir(parents=True, exist_ok=True)
                self._dynamic_client = DynamicClient(  # type: ignore[no-untyped-call]
                    self._api_client, cache_file=str(self._cache_file)
                )
            return self._dynamic_client

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Manifest | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request over the thin path (`transport.py`), its failures mapped as every
        other request's."""
        assert self._transport is not None, "a ClusterClient built by connect"
        with self._translated():
            try:
                return self._transport.send(
                    method, path, query=query, body=body, content_type=content_type
                )
            except NotJson as e:
                raise ClusterUnavailable(f"cluster {self.name}: {e}") from None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except Refusal as e:
            raise self._refusal(e.status, e.reason, e.body, e.headers) from None
        except ApiException as e:
            raise self._api_error(e) from None
        except urllib3.exceptions.HTTPError as e:
            raise self._transport_error(e) from None
        except (OSError, ValueError) as e:
            # DynamicClient reports a plain-http answer on an https host as ValueError.
            raise ClusterUnavailable(f"cluster {self.name}: unreachable: {e}") from None

    def _api_error(self, e: ApiException) -> Exception:
        code = int(e.status or 0)
        if code == 0:
            if "SSL" in str(e.reason or ""):
                return ClusterRefused(
                    f"cluster {self.name}: TLS handshake failed; check the certificate "
                    f"authority in kubeconfig {self.kubeconfig}"
                )
            return ClusterUnavailable(f"cluster {self.name}: unreachable: {e.reason}")
        return self._refusal(code, str(e.reason or ""), e.body, e.headers)

    def _refusal(self, code: int, phrase: str, body: str | bytes | None, headers: Any) -> Exception:
        """The error for an answer of status `code` (its reason phrase, body and headers)."""
        reason, message, causes = _status_of(body, phrase)
        if code == 403 and message and not _AUTHORIZATION_DENIAL.search(message):
            return RequestRejected(code=code, reason=reason, message=message, causes=causes)
        if code == 500 and any(refusal in message for refusal in OBJECT_REFUSALS):
            return RequestRejected(code=code, reason=reason, message=message, causes=causes)
        if code in (401, 403):
            text = (
                f"cluster {self.name}: credentials refused ({code} {reason or 'Unauthorized'}"
                f"{': ' + message if message and code == 403 else ''}); "
                f"check the user of kubeconfig {self.kubeconfig}"
            )
            return (
                CredentialsForbidden(text, detail=message) if code == 403 else ClusterRefused(text)
            )
        if code == 429 or code >= 500:
            failed = ClusterUnavailable if code in CLUSTER_STATUS else TransientError
            return failed(
                f"cluster {self.name}: {code} {reason}: {message}".rstrip(": "),
                delay=_retry_after(headers),
            )
        return RequestRejected(code=code, reason=reason, message=message, causes=causes)

    def _transport_error(self, e: urllib3.exceptions.HTTPError) -> Exception:
        cause = e.reason if isinstance(e, urllib3.exceptions.MaxRetryError) else e
        if isinstance(cause, urllib3.exceptions.SSLError):
            return ClusterRefused(
                f"cluster {self.name}: TLS handshake failed; check the certificate authority "
                f"in kubeconfig {self.kubeconfig}"
            )
        host = self._api_client.configuration.host
        if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
            waited = _CONNECT_WAITED.search(str(cause))
            within = f" within {float(waited.group(1)):g} s" if waited else ""
            return ClusterUnavailable(f"cluster {self.name}: no connection to {host}{within}")
        if isinstance(cause, urllib3.exceptions.TimeoutError):
            return ClusterUnavailable(f"cluster {self.name}: timed out talking to {host}")
        return ClusterUnavailable(f"cluster {self.name}: unreachable at {host}: {_short(cause)}")


class WatchStream:
    """An open watch: iterating yields each event as a mapping (`type`, `object`); the
    iteration ends when the server ends the watch or `close()` is called (from any thread).
    A broken connection raises `TransientError`; a line longer than `MAX_WATCH_LINE` or one
    that is not JSON raises `TransientError` too (the watch is started again)."""

    def __init__(self, response: Any, *, cluster: str) -> None:
        self._response = response
        self._cluster = cluster
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = bytearray()
        clean = False
        try:
            for chunk in self._response.stream(amt=None, decode_content=False):
                buffer.extend(chunk)
                while (end := buffer.find(b"\n")) != -1:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    if line.strip():
                        yield self._decode(line)
                if len(buffer) > MAX_WATCH_LINE:
                    raise TransientError(
                        f"cluster {self._cluster}: a watch event longer than "
                        f"{MAX_WATCH_LINE} bytes; watching again"
                    )
            if buffer.strip() and not self._closed.is_set():
                yield self._decode(bytes(buffer))
            clean = not self._closed.is_set()
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            if not self._closed.is_set():
                raise TransientError(
                    f"cluster {self._cluster}: watch interrupted: {_short(e)}"
                ) from None
        finally:
            self._release(clean)

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            event = json.loads(line)
        except ValueError:
            raise TransientError(
                f"cluster {self._cluster}: a watch event that is not JSON; watching again"
            ) from None
        if not isinstance(event, dict):
            raise TransientError(f"cluster {self._cluster}: a watch event that is not an object")
        return event

    def close(self) -> None:
        """End the watch now, even while another thread waits on it."""
        self._closed.set()
        with contextlib.suppress(Exception):
            self._response.shutdown()

    def _release(self, clean: bool) -> None:
        """Give the connection back to the pool when the server ended the watch; close it
        when the watch was cut (it cannot carry another request)."""
        with contextlib.suppress(Exception):
            if not clean:
                self._response.close()
            self._response.release_conn()


def _short(e: BaseException | None) -> str:
    """The last words of a transport failure: urllib3's `(what happened, the error under it)`
    as `what happened: the error`, another error's text after its last colon."""
    if e is None:
        return "connection failed"
    if len(e.args) == 2 and isinstance(e.args[0], str) and isinstance(e.args[1], BaseException):
        what, under = e.args[0].rstrip("."), str(e.args[1])
        return what if under in what else f"{what}: {under}"
    text = str(e)
    return text.rpartition(": ")[2] or text


def _status_of(text: str | bytes | None, phrase: str) -> tuple[str, str, tuple[Cause, ...]]:
    """(reason, message, causes) from the Status body, the HTTP reason phrase failing that."""
    try:
        body = json.loads(text) if text else {}
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason") or phrase or "")
    message = str(body.get("message") or "")
    details = body.get("details")
    found = details.get("causes") if isinstance(details, dict) else None
    causes = tuple(
        Cause(
            field=str(c.get("field") or ""),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in (found if isinstance(found, list) else ())
        if isinstance(c, dict)
    )
    return reason, message, causes


def _retry_after(headers: Any) -> float | None:
    headers = headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# -- connect -------------------------------------------------------------------------------

_POOL_FULL = "Connection pool is full, discarding connection"


class _PoolFullAtDebug(logging.Filter):
    """urllib3 logs each connection its pool does not keep (a burst beyond
    `FLEETSYNC_KUBE_CONNECTIONS`) at WARNING. With a bounded pool that is expected, one line per
    extra request of every burst, which would flood the log: that one message is logged at DEBUG
    instead (shown only when urllib3 logs at DEBUG) and counted (`connections_discarded`);
    urllib3's other warnings (retries, bad headers) stay warnings. A filter on urllib3's own
    logger sees only records logged there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith(_POOL_FULL):
            return True
        global _discarded
        with _discarded_lock:
            _discarded += 1
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_discarded = 0
_discarded_lock = threading.Lock()
logging.getLogger("urllib3.connectionpool").addFilter(_PoolFullAtDebug())


def connections_discarded() -> int:
    """How many connections this process's pools closed since it started instead of keeping
    them (each a request of a burst beyond `FLEETSYNC_KUBE_CONNECTIONS`)."""
    return _discarded


_ClientKey = tuple[str, str, str, int, str, float]
_clients: collections.OrderedDict[_ClientKey, ClusterClient] = collections.OrderedDict()
_clients_lock = threading.Lock()
_cache_size = CLIENT_CACHE_SIZE
_cap: int | None = None
"""The operator's bound (`FLEETSYNC_KUBE_CLIENTS`), or None: the bound follows the fleet."""
_fleet_clusters = 0
_built = 0
_connections = KUBE_CONNECTIONS


def connect(cluster: Cluster, *, cache_dir: Path, timeout: float) -> ClusterClient:
    """The client for a cluster, shared while its kubeconfig file is unchanged.

    Raises PermanentError naming the file when the kubeconfig is missing or invalid. Does not
    talk to the cluster: an unreachable cluster shows on the first request (TransientError).
    """
    path = Path(cluster.kubeconfig)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as e:
        raise ClusterRefused(
            f"cluster {cluster.name}: kubeconfig {path}: {e.strerror or 'cannot be read'}"
        ) from None
    key: _ClientKey = (
        cluster.name,
        str(path),
        cluster.context or "",
        mtime,
        str(cache_dir),
        timeout,
    )
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
    client = _build(cluster, path=path, cache_dir=cache_dir, timeout=timeout)
    global _built
    with _clients_lock:
        _built += 1
        client = _clients.setdefault(key, client)
        _clients.move_to_end(key)
        while len(_clients) > _cache_size:
            _clients.popitem(last=False)
    return client


def keep_clients(cap: int | None) -> None:
    """Bound the cached clients to `cap` (least recently used dropped first); None: a client for
    every cluster the published fleet declares (`fit_clients`), at least `CLIENT_CACHE_SIZE`."""
    global _cap
    with _clients_lock:
        _cap = None if cap is None else max(1, cap)
        _resize()


def fit_clients(clusters: int) -> None:
    """The fleet a task read declares `clusters` clusters: unless the operator bounded them,
    keep a client for each, so that a reconcile never builds its cluster's client again
    (kubeconfig, configuration, discovery) because others pushed it out."""
    global _fleet_clusters
    if clusters == _fleet_clusters:
        return
    with _clients_lock:
        _fleet_clusters = clusters
        _resize()


def keep_connections(connections: int) -> None:
    """Let each client built from now on keep at most `connections` connections to its cluster
    idle (`FLEETSYNC_KUBE_CONNECTIONS`); clients already kept keep their pools as they are."""
    global _connections
    _connections = max(1, connections)


def kept_clients() -> int:
    """How many clients this process keeps at most now."""
    return _cache_size


def clients_built() -> int:
    """How many clients this process has built (read a kubeconfig for) since it started."""
    return _built


def _resize() -> None:
    global _cache_size
    _cache_size = _cap if _cap is not None else max(CLIENT_CACHE_SIZE, _fleet_clusters)
    while len(_clients) > _cache_size:
        _clients.popitem(last=False)


def forget_clients() -> None:
    """Drop every cached client (tests, or a process that reloads its fleet)."""
    with _clients_lock:
        _clients.clear()


def _build(cluster: Cluster, *, path: Path, cache_dir: Path, timeout: float) -> ClusterClient:
    configuration = type.__call__(kube_client.Configuration)
    # Retry a refused connection once; Celery owns every other retry, with backoff and jitter
    # (a 429/503 comes back at once, its Retry-After becoming the TransientError's delay).
    configuration.retries = urllib3.Retry(
        total=1,
        connect=1,
        read=False,
        status=False,
        redirect=False,
        other=False,
        respect_retry_after_header=False,
    )
    config = _read_kubeconfig(cluster, path)
    try:
        # What `new_client_from_config` does with the file, from the text read above: a node
        # named by the file's path, whose relative certificate paths are read beside it.
        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=ConfigNode(str(path), config, str(path)),  # type: ignore[no-untyped-call]
            active_context=cluster.context,
            config_base_path=None,
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        # The pool keeps at most this many connections once they are free; a burst beyond it
        # still opens what it needs (the pool does not block), and closes the extra ones after.
        configuration.connection_pool_maxsize = _connections
        api_client = kube_client.ApiClient(configuration=configuration)
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise ClusterRefused(
            f"cluster {cluster.name}: kubeconfig {path} is invalid: {_config_problem(e)}"
        ) from None
    _default_timeout(api_client.rest_client, timeout)
    configuration = api_client.configuration
    if not _expiring_credentials(config, cluster.context):
        # The client would otherwise copy the same token and host into its configuration before
        # every request (re-reading the proxy environment each time): nothing can expire here.
        configuration.refresh_api_key_hook = None
    return ClusterClient(
        name=cluster.name,
        kubeconfig=str(path),
        api_client=api_client,
        cache_file=cache_dir / _safe_dir(cluster.name) / "discovery.json",
        transport=Transport(
            host=configuration.host,
            pool_manager=api_client.rest_client.pool_manager,
            authorization=lambda: _authorization(configuration),
            headers=api_client.default_headers,
            timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout),
        ),
    )


def _authorization(configuration: Any) -> str | None:
    """The Authorization header the kubernetes client would send now: its bearer token (or
    basic credentials), asked of the configuration before every request, which refreshes an
    exec plugin's or an auth provider's token once it expires."""
    setting = configuration.auth_settings().get("BearerToken")
    return str(setting["value"]) if setting and setting.get("value") else None


class SharingClient(ClusterClient):
    """A client for one task over another client's connection pools, credentials, discovery
    (the kinds it resolved included: a task's own would walk the discoverer's tree again for
    every kind, every task) and lock; subclasses keep what the task's requests share among
    themselves."""

    def __init__(self, shared: ClusterClient) -> None:
        super().__init__(
            name=shared.name,
            kubeconfig=shared.kubeconfig,
            api_client=shared._api_client,
            cache_file=shared._cache_file,
            transport=shared._transport,
        )
        self._shared = shared
        self._lock = shared._lock

    def resolve(self, api_version: str, kind: str, *, any_version: bool = False) -> ApiResource:
        return self._shared.resolve(api_version, kind, any_version=any_version)

    def invalidate_discovery(self) -> None:
        self._shared.invalidate_discovery()

    def _dynamic(self) -> Any:
        return self._shared._dynamic()


def _read_kubeconfig(cluster: Cluster, path: Path) -> Mapping[str, Any]:
    """The kubeconfig's content, read with libyaml's loader where PyYAML has it. Raises
    PermanentError naming the file when it cannot be read or is no kubeconfig; a text that is
    no YAML raises its `yaml.YAMLError` as the kubernetes client's own read did (a reconcile
    retries it: a file caught half-written reads whole next time)."""
    try:
        config = safe_load(path.read_text())
    except OSError as e:
        raise ClusterRefused(
            f"cluster {cluster.name}: kubeconfig {path}: {e.strerror or 'cannot be read'}"
        ) from None
    except UnicodeDecodeError as e:
        raise ClusterRefused(
            f"cluster {cluster.name}: kubeconfig {path} is invalid: {_config_problem(e)}"
        ) from None
    if not isinstance(config, Mapping):
        what = "empty" if config is None else f"{_kind(config)}, not a mapping"
        raise ClusterRefused(f"cluster {cluster.name}: kubeconfig {path} is invalid: {what}")
    for key in ("clusters", "contexts", "users"):
        if not isinstance(config.get(key) or [], list):
            raise ClusterRefused(
                f"cluster {cluster.name}: kubeconfig {path} is invalid: {key} is "
                f"{_kind(config[key])}, not a list"
            )
    return config


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    kinds: dict[type, str] = {str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _expiring_credentials(config: Mapping[str, Any], context: str | None) -> bool:
    """Whether the kubeconfig's user (of `context`, else the current context) gets its token
    from an exec plugin or an auth provider, which the client asks again once it expires; a
    static token, a token file, a client certificate or a password never expire. When the file
    cannot be read as one, True: the client keeps its own way of refreshing."""
    try:
        name = context or config["current-context"]
        chosen = next(c["context"] for c in config["contexts"] if c["name"] == name)
        user = next(u["user"] for u in config["users"] if u["name"] == chosen["user"])
    except (KeyError, TypeError, StopIteration):
        return True
    return not isinstance(user, Mapping) or "exec" in user or "auth-provider" in user


def _config_problem(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def _safe_dir(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def _default_timeout(rest_client: Any, timeout: float) -> None:
    """Give every request of this client a timeout, discovery's included (which sets none): a
    connection must be made within `CONNECT_TIMEOUT` (a host that does not answer at all is
    given up on soon), an answer may then take `timeout`."""
    request: Callable[..., Any] = rest_client.request
    default = (min(CONNECT_TIMEOUT, timeout), timeout)

    def with_timeout(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        return request(*args, _request_timeout=_request_timeout or default, **kwargs)

    rest_client.request = with_timeout
