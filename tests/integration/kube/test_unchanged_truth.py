"""The no-op prediction held to the truth of the API server.

`unchanged.unchanged` lets a sync skip the server's dry-run for an object it can tell applying
would leave as it is. For every object of a corpus of real-world manifests (`corpus`), applied as
fleetsync, re-applied, then edited by other field managers, its verdict is compared with the real
server's: a server-side dry-run apply, judged by `diff.same_live_state`; and once more for a
manifest that drops a label, a change in Git that the drift view cannot see. A false "unchanged"
(the server would change the object) fails the test: it would be a change never applied. The
drift view (`diff.diff_object`) must agree with the server too: drift exactly when applying
changes something. And a steady-state re-apply is decided locally for every object but the known
exceptions below, which cost one dry-run per sync. On a real server, whose truth is the point,
and on kubesim, which must store every object of the corpus as the real server does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from fleetsync.shared.kube.client import ClusterClient
from fleetsync.shared.kube.diff import diff_object, same_live_state
from fleetsync.shared.kube.read import get_live
from fleetsync.shared.kube.targets import Target, locate
from fleetsync.shared.kube.unchanged import unchanged
from tests.integration.kube.conftest import Live
from tests.integration.kube.corpus import Edit, corpus
from tests.integration.kube.manifests import namespace
from tests.support.waiting import wait_for

DECIDED_BY_THE_SERVER = {
    "statefulset": "its volumeClaimTemplates are a list owned whole, and the server fills "
    "defaults (volumeMode, status) into its items",
    "hpa": "a 1.25 server stores an HPA's metrics in another order than written",
}
"""Cases whose steady state the prediction leaves to a dry-run, and why."""

CASES = [case.name for case in corpus("ns", "x")]


@pytest.mark.parametrize("name", CASES)
def test_the_no_op_prediction_never_claims_unchanged_where_the_server_would_change(
    live: Live, name: str
) -> None:
    case = next(c for c in corpus(live.ns, live.suffix) if c.name == name)
    client = live.client
    app = live.app
    client.apply(
        locate(client, namespace(live.ns), app=app, namespace=None).resource,
        namespace(live.ns),
        force=True,
    )
    for need in case.needs:
        establish(client, locate(client, need, app=app, namespace=live.ns))
    target = locate(client, case.manifest, app=app, namespace=live.ns)
    client.apply(target.resource, target.obj, force=True)

    verdicts = [judge(client, target, "re-apply")]
    for edit in case.edits:
        client.apply(target.resource, target.obj, force=True)
        made_by(live, target, edit)
        verdicts.append(judge(client, target, f"edit: {edit.name}"))
    client.apply(target.resource, target.obj, force=True)
    dropped = without_label(target, "tier")
    git_change = judge(client, dropped, "Git drops a label the drift view does not compare")

    wrong = [v for v in [*verdicts, git_change] if v["predicted"] and not v["truth"]]
    assert wrong == [], f"{name}: the prediction says unchanged where the server changes"
    assert not git_change["truth"], "applying without the label removes it"
    drift_wrong = [v for v in verdicts if v["drift"] == v["truth"]]
    assert drift_wrong == [], f"{name}: the drift view disagrees with the server"
    steady = verdicts[0]
    assert steady["truth"], f"{name}: re-applying the same manifest changed the object"
    assert steady["predicted"] is (name not in DECIDED_BY_THE_SERVER), (
        f"{name}: a steady state {'not ' if name not in DECIDED_BY_THE_SERVER else ''}"
        "decided locally"
    )


def judge(client: ClusterClient, target: Target, what: str) -> dict[str, Any]:
    """The prediction, the drift view and the server's dry-run, on one live object (read again
    until no controller wrote it between the read and the dry-run)."""
    live = get_live(client, target)
    for _ in range(20):
        after = client.apply(target.resource, target.obj, force=True, dry_run=True)
        again = get_live(client, target)
        assert live is not None and again is not None
        if again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]:
            break
        live = again
    assert live is not None
    return {
        "what": what,
        "predicted": unchanged(target.obj, live),
        "truth": same_live_state(after, live),
        "drift": diff_object(target.obj, live) is not None,
    }


def without_label(target: Target, label: str) -> Target:
    obj = copy.deepcopy(dict(target.obj))
    del obj["metadata"]["labels"][label]
    return replace(target, obj=obj)


def made_by(live: Live, target: Target, edit: Edit) -> None:
    """Another field manager's edit, as kubectl would send it."""
    metadata = target.obj["metadata"]
    path = target.resource.path(
        namespace=str(metadata.get("namespace") or ""), name=metadata["name"]
    )
    if edit.how == "apply":
        live.operator.apply(path, edit.body, manager=edit.manager)
        return
    kind = "merge-patch" if edit.how == "merge" else "strategic-merge-patch"
    live.operator.request(
        "PATCH", path, edit.body, content_type=f"application/{kind}+json", fieldManager=edit.manager
    )


def establish(client: ClusterClient, crd: Target) -> None:
    client.apply(crd.resource, crd.obj, force=True)

    def established() -> bool:
        obj: Mapping[str, Any] | None = get_live(client, crd)
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    wait_for(established, what=f"CRD {crd.key} to be Established")
    client.invalidate_discovery()
