"""The API verbs on one cluster: get, list, create, update, patch (incl. apply), delete.

HTTP-agnostic: a verb takes a `Target` (resolved from the URL), decoded options and body, and
returns `(status code, body)` or raises `ApiError`. Every write funnels through `_store`, which
runs admission, ownership bookkeeping and the commit.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim import admission, crdschema, kinddefaults, lifecycle, quota
from kubesim.bodies import decode_yaml_or_json
from kubesim.catalog import ResourceType
from kubesim.cluster import CRD_KEY, NAMESPACE_KEY, Cluster, now_rfc3339
from kubesim.crds import (
    CLEANUP_FINALIZER,
    crd_conflict,
    established_status,
    is_established,
    pending_status,
    validate_crd,
)
from kubesim.crdvalues import value_causes
from kubesim.errors import (
    ApiError,
    Cause,
    Reason,
    already_exists,
    bad_request,
    continue_expired,
    forbidden,
    invalid,
    not_found,
    stale_resource_version,
    unsupported_media_type,
)
from kubesim.immutable import UPDATE_RULES_FIRST, update_causes
from kubesim.managedfields import (
    decode_entries,
    encode_entries,
    manager_from_user_agent,
    record_update,
)
from kubesim.namespaces import populate
from kubesim.patches import (
    PatchError,
    PatchType,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kubesim.schema import kind_root, zero_object
from kubesim.selectors import field_matcher, label_matcher
from kubesim.ssa import ApplyConflict, apply_configuration
from kubesim.validation import (
    FieldValidation,
    check_applied,
    check_patched,
)
from kubesim.validation import check_body as check_fields

Result = tuple[int, dict[str, Any]]
_INITIAL_STATUS: dict[str, dict[str, Any]] = {
    "Namespace": {"phase": "Active"},
    "Pod": {"phase": "Pending"},
    "PersistentVolumeClaim": {"phase": "Pending"},
    "Service": {"loadBalancer": {}},
}


@dataclass(frozen=True)
class Target:
    """What a URL names: a type at a version, a namespace (None: all), a name, a subresource."""

    rtype: ResourceType
    version: str
    namespace: str | None
    name: str | None = None
    subresource: str = ""

    @property
    def ns(self) -> str:
        return self.namespace or ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.rtype.group, self.rtype.resource)


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    force: bool = False
    field_validation: FieldValidation = FieldValidation.WARN
    warnings: list[str] = field(default_factory=list)
    """Warnings for the response's `Warning` headers (filled while the write is checked)."""


def _root(t: Target) -> str | None:
    """The built-in schema of the target's kind at the requested version (None for CRDs)."""
    return kind_root(t.rtype.group, t.version, t.rtype.kind) if t.rtype.schema else None


def _custom_schema(cluster: Cluster, t: Target) -> Any:
    """The structural schema of a custom resource's version (None for built-ins)."""
    if t.rtype.schema is not None or cluster.crd_type(t.key) is None:
        return None
    crd = cluster.store.get(CRD_KEY, "", f"{t.rtype.resource}.{t.rtype.group}")
    return crdschema.version_schema(crd, t.version)


def _check_custom(
    cluster: Cluster, t: Target, obj: dict[str, Any], opts: WriteOptions
) -> dict[str, Any]:
    return crdschema.enforce(
        _custom_schema(cluster, t),
        obj,
        kind=t.rtype.kind,
        group=t.rtype.group,
        version=t.version,
        mode=opts.field_validation,
        warnings=opts.warnings,
    )


def view(obj: dict[str, Any], rtype: ResourceType, version: str) -> dict[str, Any]:
    """The object as served at `version` (same schema: only apiVersion differs)."""
    api_version = rtype.api_version(version)
    if obj.get("apiVersion") == api_version and obj.get("kind") == rtype.kind:
        return obj
    return {**obj, "apiVersion": api_version, "kind": rtype.kind}


def _existing(cluster: Cluster, t: Target) -> dict[str, Any]:
    obj = cluster.store.get(t.key, t.ns, t.name or "")
    if obj is None:
        raise not_found(t.rtype.resource, t.name or "", t.rtype.group)
    return obj


def get(cluster: Cluster, t: Target) -> Result:
    return 200, view(_existing(cluster, t), t.rtype, t.version)


def list_objects(cluster: Cluster, t: Target, query: Mapping[str, str]) -> Result:
    labels = label_matcher(query.get("labelSelector"))
    fields = field_matcher(query.get("fieldSelector"))
    items = cluster.store.list(t.key, t.namespace if t.rtype.namespaced else None)
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    selected = [o for o in items if (labels is None or labels(o)) and (fields is None or fields(o))]
    token = query.get("continue")
    revision = cluster.store.revision
    if token:
        revision, after = _read_continue(token)
        if 0 <= revision < cluster.store.compacted:
            raise continue_expired(_continue_token(-1, after))
        selected = [
            o
            for o in selected
            if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after
        ]
    meta: dict[str, Any] = {"resourceVersion": str(cluster.store.revision)}
    limit = int(query.get("limit") or 0)
    if 0 < limit < len(selected):
        last = selected[limit - 1]["metadata"]
        meta["continue"] = _continue_token(revision, (last.get("namespace", ""), last["name"]))
        if labels is None and fields is None:  # a filtered list cannot count what remains
            meta["remainingItemCount"] = len(selected) - limit
        selected = selected[:limit]
    return 200, {
        "kind": f"{t.rtype.kind}List",
        "apiVersion": t.rtype.api_version(t.version),
        "metadata": meta,
        "items": [view(o, t.rtype, t.version) for o in selected],
    }


def _continue_token(revision: int, after: tuple[str, str]) -> str:
    """A list continuation: the first page's revision (-1: go on at the latest) and the last
    (namespace, name) served."""
    return base64.urlsafe_b64encode(json.dumps([revision, *after]).encode()).decode()


def _read_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        revision, namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(revision), (str(namespace), str(name))
    except (ValueError, TypeError):
        raise bad_request("invalid continue token: continue key is not valid") from None


def _check_namespace(cluster: Cluster, t: Target, name: str) -> None:
    if not t.rtype.namespaced:
        return
    ns = cluster.store.get(NAMESPACE_KEY, "", t.ns)
    if ns is None:
        raise not_found("namespaces", t.ns)
    if ns["metadata"].get("deletionTimestamp"):
        message = f"unable to create new content in namespace {t.ns} because it is being terminated"
        raise forbidden(
            f'{t.rtype.resource} "{name}" is forbidden: {message}',
            name=name,
            kind=t.rtype.resource,
            group=t.rtype.group,
            causes=[
                Cause(
                    "NamespaceTerminating",
                    f"namespace {t.ns} is being terminated",
                    "metadata.namespace",
                )
            ],
        )


def create(cluster: Cluster, t: Target, body: Any, opts: WriteOptions, user_agent: str) -> Result:
    obj = admission.check_body(t.rtype, t.version, body, namespace=t.ns, name=None)
    obj = check_fields(_root(t), t.rtype.kind, t.version, obj, opts.field_validation, opts.warnings)
    obj = _check_custom(cluster, t, obj, opts)
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
    name = str(meta.get("name") or "")
    admission.validate_name(t.rtype, name)
    _check_namespace(cluster, t, name)
    if cluster.store.get(t.key, t.ns, name) is not None:
        raise already_exists(t.rtype.resource, name, t.rtype.group)
    for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
        meta.pop(k, None)
    if t.rtype.has_status:
        obj["status"] = dict(_INITIAL_STATUS.get(t.rtype.kind, {}))
    manager = opts.field_manager or _default_manager(user_agent)
    stored = _store(cluster, t, None, obj, manager=manager, opts=opts)
    return 201, view(stored, t.rtype, t.version)


def _default_manager(user_agent: str) -> str:
    return manager_from_user_agent(user_agent)


def _store(
    cluster: Cluster,
    t: Target,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str | None,
    opts: WriteOptions,
) -> dict[str, Any]:
    """Admission, ownership, commit and post-write hooks for one computed object."""
    rtype = t.rtype
    new = {**new, "metadata": dict(new["metadata"])}
    cluster_ip = ""
    if rtype.kind == "Service" and not rtype.group:
        old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
        cluster_ip = old_ip or cluster.next_cluster_ip()
    admission.apply_defaults(rtype, new, cluster_ip=cluster_ip)
    is_crd = t.key == CRD_KEY
    if is_crd:
        validate_crd(new)
        spec = new["spec"]
        builtin = cluster.types.by_key(spec["group"], spec["names"]["plural"])
        if builtin is not None and cluster.crd_type((builtin.group, builtin.resource)) is None:
            raise crd_conflict(builtin, new["metadata"]["name"])
        finalizers = list(new["metadata"].get("finalizers") or [])
        if old is None and CLEANUP_FINALIZER not in finalizers:
            new["metadata"]["finalizers"] = [*finalizers, CLEANUP_FINALIZER]
        delay = cluster.controllers.crd_established_delay
        if (old is None and delay > 0) or (old is not None and not is_established(old)):
            new["status"] = pending_status(new)
        else:
            new["status"] = established_status(
                new,
                (old or {}).get("status", {}).get("conditions", [{}])[0].get("lastTransitionTime")
                or now_rfc3339(),
            )
    if old is not None:
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in old["metadata"]:
                new["metadata"][k] = old["metadata"][k]
    if manager is not None:
        client_entries = new["metadata"].get("managedFields")
        old_entries = (old or {}).get("metadata", {}).get("managedFields")
        source = new if client_entries and client_entries != old_entries else old
        if client_entries == [{}]:
            source = None
        entries = record_update(
            old,
            new,
            manager=manager,
            api_version=rtype.api_version(t.version),
            subresource=t.subresource,
            schema=cluster.list_schema(rtype),
            ignore_status=rtype.has_status and t.subresource != "status",
            now=now_rfc3339(),
            entries=decode_entries(source),
            zero=zero_object(_root(t)),
        )
        new["metadata"]["managedFields"] = encode_entries(entries)
    admission.allocate(rtype, new, cluster_ip=cluster_ip, created=old is None)
    if rtype.schema is not None and t.subresource != "status":
        if old is None:
            kinddefaults.on_create(rtype.group, rtype.kind, new)
        else:
            kinddefaults.on_update(rtype.group, rtype.kind, old, new)
    more = value_causes(_custom_schema(cluster, t), new) + quota.spec_causes(rtype, new)
    if t.subresource != "status" and old is not None:
        more += update_causes(rtype, old, new)
    if t.subresource != "status" or more:
        admission.validate(rtype, new, more, more_first=rtype.kind in UPDATE_RULES_FIRST)
    if old is None:
        quota.admit(cluster, rtype, new)
    if t.key == NAMESPACE_KEY:
        admission.finalize_namespace(new)
    stored = cluster.commit(rtype, old, new, dry_run=opts.dry_run)
    if opts.dry_run:
        return stored
    if is_crd and is_established(stored):
        cluster.register_crd(stored)
    elif is_crd and old is None:
        name = stored["metadata"]["name"]
        cluster.schedule(
            cluster.controllers.crd_established_delay, lambda: _establish(cluster, rtype, name)
        )
    if old is None and t.key == NAMESPACE_KEY:
        populate(cluster.store, stored["metadata"]["name"], now_rfc3339())
    if old is not None and lifecycle.finish_if_finalized(cluster, rtype, stored):
        return stored
    return stored


def _establish(cluster: Cluster, rtype: ResourceType, name: str) -> None:
    """The delayed end of a CRD's establishment: its kind is served from now on."""
    current = cluster.store.get(CRD_KEY, "", name)
    if current is None or is_established(current) or current["metadata"].get("deletionTimestamp"):
        return
    done = {
        **current,
        "metadata": dict(current["metadata"]),
        "status": established_status(current, now_rfc3339()),
    }
    cluster.register_crd(cluster.commit(rtype, current, done, dry_run=False))


def _keep_status(t: Target, old: Mapping[str, Any] | None, new: dict[str, Any]) -> None:
    """Writes to the main resource do not change status; writes to /status change only it."""
    if t.subresource == "status" and old is not None:
        status = new.get("status")
        new.clear()
        new.update({**old, "metadata": dict(old["metadata"])})
        if status is not None:
            new["status"] = status
        else:
            new.pop("status", None)
    elif t.rtype.has_status and old is not None and t.key != CRD_KEY:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)


def update(cluster: Cluster, t: Target, body: Any, opts: WriteOptions, user_agent: str) -> Result:
    old = _existing(cluster, t)
    new = admission.check_body(t.rtype, t.version, body, namespace=t.ns, name=t.name)
    new = check_fields(_root(t), t.rtype.kind, t.version, new, opts.field_validation, opts.warnings)
    if t.subresource != "status":
        new = _check_custom(cluster, t, new, opts)
    rv = new["metadata"].get("resourceVersion")
    if not rv and cluster.crd_type(t.key) is not None:
        raise invalid(
            t.rtype.resource,
            t.name or "",
            [
                Cause(
                    "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update",
                    "metadata.resourceVersion",
                )
            ],
            group=t.rtype.group,
        )
    if rv and rv != old["metadata"].get("resourceVersion"):
        raise stale_resource_version(t.rtype.resource, t.name or "", t.rtype.group)
    _keep_status(t, old, new)
    manager = opts.field_manager or _default_manager(user_agent)
    stored = _store(cluster, t, old, new, manager=manager, opts=opts)
    return 200, view(stored, t.rtype, t.version)


def _decode_patch(body: bytes, patch_type: PatchType) -> Any:
    try:
        if patch_type is PatchType.APPLY:
            return decode_yaml_or_json(body)
        return json.loads(body)
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None


def patch(
    cluster: Cluster, t: Target, body: bytes, content_type: str, opts: WriteOptions, user_agent: str
) -> Result:
    media = content_type.split(";", 1)[0].strip()
    try:
        patch_type = PatchType(media)
    except ValueError:
        raise unsupported_media_type(media) from None
    if patch_type is PatchType.APPLY_CBOR:
        raise unsupported_media_type(media)
    if patch_type is not PatchType.APPLY and opts.force:
        raise invalid(
            "PatchOptions",
            "",
            [
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: may not be specified for non-apply patch",
                    "force",
                )
            ],
            group="meta.k8s.io",
        )
    if patch_type is PatchType.APPLY:
        if not opts.field_manager:
            raise invalid(
                "PatchOptions",
                "",
                [
                    Cause(
                        "FieldValueRequired",
                        "Required value: is required for apply patch",
                        "fieldManager",
                    )
                ],
                group="meta.k8s.io",
            )
        return _apply(cluster, t, _decode_patch(body, patch_type), opts)
    if patch_type is PatchType.STRATEGIC and cluster.crd_type(t.key) is not None:
        raise unsupported_media_type(f"{media} (not supported for custom resources)")
    old = _existing(cluster, t)
    document = _decode_patch(body, patch_type)
    base = view(old, t.rtype, t.version)
    try:
        if patch_type is PatchType.MERGE:
            if not isinstance(document, Mapping):
                raise bad_request("a merge patch must be a JSON object")
            new = merge_patch(base, document)
        elif patch_type is PatchType.JSON:
            new = json_patch(base, document)
        else:
            if not isinstance(document, Mapping):
                raise bad_request("a strategic merge patch must be a JSON object")
            new = strategic_merge_patch(base, document, cluster.list_schema(t.rtype))
    except PatchError as exc:
        raise ApiError(
            422 if patch_type is PatchType.JSON else 400,
            Reason.INVALID if patch_type is PatchType.JSON else Reason.BAD_REQUEST,
            str(exc),
        ) from None
    new = admission.check_body(t.rtype, t.version, new, namespace=t.ns, name=t.name)
    new = check_patched(
        _root(t),
        new,
        document,
        strategic=patch_type is PatchType.STRATEGIC,
        mode=opts.field_validation,
        warnings=opts.warnings,
    )
    if t.subresource != "status":
        new = _check_custom(cluster, t, new, opts)
    _keep_status(t, old, new)
    manager = opts.field_manager or _default_manager(user_agent)
    stored = _store(cluster, t, old, new, manager=manager, opts=opts)
    return 200, view(stored, t.rtype, t.version)


def _apply(cluster: Cluster, t: Target, applied: Any, opts: WriteOptions) -> Result:
    if isinstance(applied, Mapping):
        applied = check_applied(
            _root(t),
            applied,
            name=t.name or "",
            api_version=t.rtype.api_version(t.version),
            kind=t.rtype.kind,
        )
    custom = _custom_schema(cluster, t) if t.subresource != "status" else None
    if isinstance(applied, Mapping):
        namespace = (applied.get("metadata") or {}).get("namespace") or ""
        crdschema.enforce_applied(
            custom,
            applied,
            subject=(f"({namespace}/{t.name}; {t.rtype.group}/{t.version}, Kind={t.rtype.kind})"),
        )
    applied = admission.check_body(t.rtype, t.version, applied, namespace=t.ns, name=t.name)
    old = cluster.store.get(t.key, t.ns, t.name or "")
    if old is None:
        admission.validate_name(t.rtype, t.name or "")
        _check_namespace(cluster, t, t.name or "")
    ignore_status = t.rtype.has_status and t.subresource != "status"
    try:
        result = apply_configuration(
            view(old, t.rtype, t.version) if old is not None else None,
            applied,
            manager=opts.field_manager,
            force=opts.force,
            schema=cluster.list_schema(t.rtype),
            ignore_status=ignore_status,
            now=now_rfc3339(),
        )
    except ApplyConflict as exc:
        raise ApiError(
            409,
            Reason.CONFLICT,
            str(exc),
            causes=[
                Cause("FieldManagerConflict", f"conflict with {c.owner}", c.field)
                for c in exc.conflicts
            ],
        ) from None
    new = crdschema.default(custom, result.object)
    new["apiVersion"] = t.rtype.api_version(t.version)
    new["kind"] = t.rtype.kind
    meta = new["metadata"]
    meta["name"] = t.name
    if t.rtype.namespaced:
        meta["namespace"] = t.ns
    if old is None and t.rtype.has_status:
        new["status"] = dict(_INITIAL_STATUS.get(t.rtype.kind, {}))
    _keep_status(t, old, new)
    stored = _store(cluster, t, old, new, manager=None, opts=opts)
    return (201 if old is None else 200), view(stored, t.rtype, t.version)


def delete(
    cluster: Cluster, t: Target, query: Mapping[str, str], body: Any, opts: WriteOptions
) -> Result:
    obj = _existing(cluster, t)
    options = body if isinstance(body, Mapping) else {}
    preconditions = options.get("preconditions") or {}
    if preconditions.get("uid") and preconditions["uid"] != obj["metadata"].get("uid"):
        raise ApiError(
            409,
            Reason.CONFLICT,
            "Precondition failed: UID in precondition: "
            f"{preconditions['uid']}, UID in object meta: {obj['metadata']['uid']}",
        )
    if preconditions.get("resourceVersion") and (
        preconditions["resourceVersion"] != obj["metadata"].get("resourceVersion")
    ):
        raise stale_resource_version(t.rtype.resource, t.name or "", t.rtype.group)
    propagation = lifecycle.parse_propagation(
        query.get("propagationPolicy") or options.get("propagationPolicy"),
        query.get("orphanDependents") or str(options.get("orphanDependents", "")).lower(),
    )
    result, gone = lifecycle.delete_object(
        cluster, t.rtype, obj, propagation=propagation, dry_run=opts.dry_run
    )
    if gone and t.key != NAMESPACE_KEY and t.rtype.kind != "Pod":
        return 200, lifecycle.success_status(t.rtype, result)
    return 200, view(result, t.rtype, t.version)


def delete_collection(
    cluster: Cluster, t: Target, query: Mapping[str, str], body: Any, opts: WriteOptions
) -> Result:
    _, listed = list_objects(
        cluster, t, {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector")}
    )
    propagation = lifecycle.parse_propagation(query.get("propagationPolicy"), None)
    deleted = []
    for obj in listed["items"]:
        current = cluster.store.get(
            t.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        )
        if current is None:
            continue
        result, _ = lifecycle.delete_object(
            cluster, t.rtype, current, propagation=propagation, dry_run=opts.dry_run
        )
        deleted.append(view(result, t.rtype, t.version))
    return 200, {
        **listed,
        "items": deleted,
        "metadata": {"resourceVersion": str(cluster.store.revision)},
    }
