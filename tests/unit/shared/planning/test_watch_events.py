"""The watcher's rules: which watch event means what (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.planning.watch_events import Action, Writer, decide, newest_writer

APP = {"fleetsync.io/application": "web"}
T1, T2 = "2026-12-05T01:00:00Z", "2026-12-05T01:00:07Z"


def entry(manager: str, time: str, *, op: str = "Update", sub: str = "") -> dict[str, Any]:
    e = {"manager": manager, "operation": op, "time": time, "fieldsType": "FieldsV1"}
    return {**e, "subresource": sub} if sub else e


def event(
    kind: str,
    *,
    labels: Any = APP,
    annotations: Any = None,
    fields: Any = (),
    namespace: str = "web",
    name: str = "cfg",
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "resourceVersion": "42",
        "managedFields": list(fields),
    }
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    if deleting:
        metadata["deletionTimestamp"] = T2
    return {"type": kind, "object": {"kind": "ConfigMap", "metadata": metadata}}


OWN_APPLY = entry("fleetsync", T2, op="Apply")
EDIT = entry("kubectl-edit", T2)
OLD_APPLY = entry("fleetsync", T1, op="Apply")
STATUS = entry("kube-controller-manager", T2, sub="status")

TABLE = [
    (
        "a bookmark resumes",
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "42"}}},
        Action.RESUME,
        "",
    ),
    (
        "410 relists",
        {
            "type": "ERROR",
            "object": {"kind": "Status", "code": 410, "message": "too old resource version"},
        },
        Action.RELIST,
        "",
    ),
    (
        "another error retries",
        {"type": "ERROR", "object": {"code": 500, "message": "boom"}},
        Action.RETRY,
        "",
    ),
    ("an unknown type retries", {"type": "WHAT", "object": {}}, Action.RETRY, ""),
    ("a creation is no drift", event("ADDED", fields=[EDIT]), Action.IGNORE, ""),
    ("fleetsync's own apply", event("MODIFIED", fields=[OLD_APPLY, OWN_APPLY]), Action.IGNORE, ""),
    ("an edit by hand", event("MODIFIED", fields=[OLD_APPLY, EDIT]), Action.CHECK, "web"),
    (
        "an edit in the same second as an apply",
        event("MODIFIED", fields=[OWN_APPLY, EDIT]),
        Action.CHECK,
        "web",
    ),
    (
        "an older edit, then fleetsync's heal",
        event("MODIFIED", fields=[entry("kubectl-edit", T1), OWN_APPLY]),
        Action.IGNORE,
        "",
    ),
    ("a status write", event("MODIFIED", fields=[OLD_APPLY, STATUS]), Action.IGNORE, ""),
    (
        "an apply and a status write together",
        event("MODIFIED", fields=[OWN_APPLY, STATUS]),
        Action.IGNORE,
        "",
    ),
    ("no managedFields at all", event("MODIFIED"), Action.CHECK, "web"),
    ("being deleted", event("MODIFIED", fields=[OWN_APPLY], deleting=True), Action.CHECK, "web"),
    ("a deletion", event("DELETED", fields=[OWN_APPLY]), Action.CHECK, "web"),
    (
        "the inventory mirror deleted",
        event(
            "DELETED",
            labels={"app.kubernetes.io/managed-by": "fleetsync"},
            annotations={"fleetsync.io/application": "shop"},
            namespace="fleetsync-system",
            name="fleetsync-inventory-shop",
            fields=[OWN_APPLY],
        ),
        Action.CHECK,
        "shop",
    ),
    (
        "an object naming no application",
        event("DELETED", labels={"app.kubernetes.io/managed-by": "fleetsync"}),
        Action.IGNORE,
        "",
    ),
    ("labels that are not a mapping", event("DELETED", labels=["x"]), Action.IGNORE, ""),
]


@pytest.mark.parametrize(("case", "ev", "action", "app"), TABLE, ids=[t[0] for t in TABLE])
def test_decision(case: str, ev: dict[str, Any], action: Action, app: str) -> None:
    decision = decide(ev)
    assert (decision.action, decision.app) == (action, app), decision.why
    if action is not Action.RETRY and action is not Action.RELIST:
        assert decision.resource_version == "42"


def test_every_decision_says_why_naming_the_object() -> None:
    assert decide(event("DELETED")).why == "ConfigMap web/cfg deleted"
    assert "kubectl-edit" in decide(event("MODIFIED", fields=[EDIT])).why
    assert "too old" in decide(TABLE[1][1]).why


def test_the_newest_writer_is_judged_by_time_not_by_order() -> None:
    assert newest_writer([OWN_APPLY, entry("kubectl-edit", T1)], "fleetsync") is Writer.OWN
    assert newest_writer([entry("fleetsync", T1), EDIT], "fleetsync") is Writer.OTHER
    assert newest_writer([], "fleetsync") is Writer.UNKNOWN
    assert newest_writer("junk", "fleetsync") is Writer.UNKNOWN
