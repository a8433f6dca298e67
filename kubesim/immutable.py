"""Fields an update may not change, refused as the real server's update validation refuses them.

`update_causes(rtype, old, new)` compares a defaulted new object with the stored one and returns
the server's causes (field, reason and message, Go's `%#v` rendering of the offending value
included): a workload's selector, a StatefulSet's spec outside the fields it may change, an
immutable ConfigMap's or Secret's data, a Secret's type, a Service's cluster IPs, a binding's
roleRef, a Job's selector, template, completions and completion mode, a claim's spec. The caller
adds them after the object's own validation errors, in one 422 Invalid, as the server does.

Two values are not rendered the way Go renders them, because Go's rendering holds what no other
server reproduces (a whole pod template with pointer addresses, a claim spec's `cmp.Diff`): a
Job's template reads `core.PodTemplateSpec{...}` and a claim's message stops after its first line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.errors import Cause

IMMUTABLE_WHEN_SET = "Forbidden: field is immutable when `immutable` is set"
STATEFULSET_SPEC = (
    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)
STATEFULSET_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
CLAIM_SPEC = (
    "Forbidden: spec is immutable after creation except resources.requests for bound claims"
)

Obj = Mapping[str, Any]
Rule = Callable[[Obj, Obj], list[Cause]]


def go_string(value: str) -> str:
    """Go's `%q` of a string (ASCII escapes as JSON writes them)."""
    return json.dumps(value)


def go_strings(values: Any) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_string(str(v)) for v in values) + "}"


def go_string_map(value: Any) -> str:
    if value is None:
        return "map[string]string(nil)"
    return (
        "map[string]string{"
        + ", ".join(f"{go_string(k)}:{go_string(str(v))}" for k, v in sorted(value.items()))
        + "}"
    )


def go_label_selector(selector: Any) -> str:
    """`%#v` of a metav1.LabelSelector (`"null"` for none, as field errors print nil)."""
    if not isinstance(selector, Mapping):
        return go_string("null")
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        rendered = (
            "[]v1.LabelSelectorRequirement{"
            + ", ".join(
                "v1.LabelSelectorRequirement{"
                f"Key:{go_string(str(e.get('key', '')))}, "
                f"Operator:{go_string(str(e.get('operator', '')))}, "
                f"Values:{go_strings(e.get('values'))}}}"
                for e in expressions
                if isinstance(e, Mapping)
            )
            + "}"
        )
    return (
        f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
        f"MatchExpressions:{rendered}}}"
    )


def go_scalar(value: Any) -> str:
    if value is None:
        return go_string("null")
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _spec(obj: Obj) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _immutable(field: str, rendered: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {rendered}: field is immutable", field)


def _selector(new: Obj, old: Obj) -> list[Cause]:
    selector = _spec(new).get("selector")
    if selector == _spec(old).get("selector"):
        return []
    return [_immutable("spec.selector", go_label_selector(selector))]


def _statefulset(new: Obj, old: Obj) -> list[Cause]:
    def fixed(spec: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k not in STATEFULSET_MUTABLE}

    if fixed(_spec(new)) == fixed(_spec(old)):
        return []
    return [Cause("FieldValueForbidden", STATEFULSET_SPEC, "spec")]


def _immutable_data(*fields: str) -> Rule:
    def rule(new: Obj, old: Obj) -> list[Cause]:
        if old.get("immutable") is not True:
            return []
        causes = []
        if new.get("immutable") is not True:
            causes.append(Cause("FieldValueForbidden", IMMUTABLE_WHEN_SET, "immutable"))
        causes += [
            Cause("FieldValueForbidden", IMMUTABLE_WHEN_SET, f)
            for f in fields
            if new.get(f) != old.get(f)
        ]
        return causes

    return rule


def _secret(new: Obj, old: Obj) -> list[Cause]:
    causes = []
    if new.get("type") != old.get("type"):
        causes.append(_immutable("type", go_scalar(new.get("type"))))
    return causes + _immutable_data("data")(new, old)


def _service(new: Obj, old: Obj) -> list[Cause]:
    """Primary and secondary cluster IPs may not change (ExternalName aside); a changed
    `clusterIP` with the old `clusterIPs` is read as new `clusterIPs`, as the server does."""
    spec, was = _spec(new), _spec(old)
    if "ExternalName" in (spec.get("type"), was.get("type")):
        return []
    old_ips = list(was.get("clusterIPs") or ())
    ips = list(spec.get("clusterIPs") or ())
    if (
        spec.get("clusterIP") not in (None, "")
        and spec.get("clusterIP") != was.get("clusterIP")
        and ips == old_ips
    ):
        ips = [spec["clusterIP"], *ips[1:]]
    return [
        Cause(
            "FieldValueInvalid",
            f"Invalid value: {go_strings(ips)}: may not change once set",
            f"spec.clusterIPs[{i}]",
        )
        for i, ip in enumerate(old_ips[: len(ips)])
        if ip != ips[i]
    ]


def _role_ref(new: Obj, old: Obj) -> list[Cause]:
    ref = new.get("roleRef")
    if ref == old.get("roleRef"):
        return []
    ref = ref if isinstance(ref, Mapping) else {}
    rendered = (
        f"rbac.RoleRef{{APIGroup:{go_string(str(ref.get('apiGroup', '')))}, "
        f"Kind:{go_string(str(ref.get('kind', '')))}, "
        f"Name:{go_string(str(ref.get('name', '')))}}}"
    )
    return [
        Cause("FieldValueInvalid", f"Invalid value: {rendered}: cannot change roleRef", "roleRef")
    ]


def _job(new: Obj, old: Obj) -> list[Cause]:
    spec, was = _spec(new), _spec(old)
    causes = []
    if spec.get("completions") != was.get("completions"):
        causes.append(_immutable("spec.completions", go_scalar(spec.get("completions"))))
    causes += _selector(new, old)
    if spec.get("template") != was.get("template"):
        causes.append(_immutable("spec.template", "core.PodTemplateSpec{...}"))
    if spec.get("completionMode") != was.get("completionMode"):
        causes.append(_immutable("spec.completionMode", go_scalar(spec.get("completionMode"))))
    return causes


def _claim(new: Obj, old: Obj) -> list[Cause]:
    if _spec(new) == _spec(old):
        return []
    return [Cause("FieldValueForbidden", CLAIM_SPEC, "spec")]


UPDATE_RULES_FIRST = frozenset({"ConfigMap", "Secret"})
"""Kinds whose update rules the server checks before the object's own (elsewhere: after)."""

RULES: Mapping[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _selector,
    ("apps", "ReplicaSet"): _selector,
    ("apps", "DaemonSet"): _selector,
    ("apps", "StatefulSet"): _statefulset,
    ("", "ConfigMap"): _immutable_data("data", "binaryData"),
    ("", "Secret"): _secret,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _claim,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_ref,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_ref,
    ("batch", "Job"): _job,
}
"""Built-in kinds with fields an update may not change."""


def update_causes(rtype: ResourceType, old: Obj, new: Obj) -> list[Cause]:
    """The causes for which the server refuses this update of a built-in object (none: fine)."""
    if rtype.schema is None:
        return []
    rule = RULES.get((rtype.group, rtype.kind))
    return rule(new, old) if rule is not None else []
