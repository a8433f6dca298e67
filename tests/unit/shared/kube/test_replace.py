"""Immutable fields as the replace side reads a refusal: which fields, and what the sync says."""

from __future__ import annotations

from fleetsync.shared.kube.client import Cause, RequestRejected
from fleetsync.shared.kube.replace import immutable_fields, immutable_message


def rejected(*causes: tuple[str, str]) -> RequestRejected:
    return RequestRejected(
        code=422,
        reason="Invalid",
        message='Deployment.apps "api" is invalid',
        causes=tuple(Cause(field=f, reason="FieldValueInvalid", message=m) for f, m in causes),
    )


def test_each_immutable_field_is_named_once_in_order_and_a_cause_without_one_is_the_object() -> (
    None
):
    refusal = rejected(
        ("spec.selector", "field is immutable"),
        ("", "Forbidden: updates to statefulset spec are forbidden"),
        ("spec.selector", "Invalid value: ...: field is immutable"),
        ("data", "Forbidden: field is IMMUTABLE"),
    )
    assert immutable_fields(refusal) == ("spec.selector", "(the object)", "data")


def test_a_field_that_cannot_change_is_named_with_the_refusal_and_both_ways_out() -> None:
    refusal = rejected(("spec.selector", "field is immutable"))
    assert immutable_message(("spec.selector", "data"), refusal) == (
        f"spec.selector, data: cannot be changed in place ({refusal}); set sync.replace: "
        "onImmutable to let fleetsync delete and recreate the object, or recreate it by hand"
    )
    assert str(refusal).startswith("422 Invalid: ")
