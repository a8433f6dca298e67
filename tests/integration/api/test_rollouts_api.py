"""/api/v1/applications/{name}/rollout and /api/v1/freeze over a real uvicorn and Redis: the
rollout's waves and clusters, the operator's actions (each refused with 409 when it does not
apply), the freeze, and a manual sync refused while frozen."""

from __future__ import annotations

from dataclasses import replace

from fleetsync.scheduler import rollout_ops
from fleetsync.scheduler.api.routes_rollouts import RolloutAction
from fleetsync.shared.model.declaration import RolloutPolicy
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import (
    ClusterProgress,
    Held,
    Phase,
    Rollout,
    RolloutPlan,
    Waiting,
    Wave,
)
from tests.integration.api.conftest import StartApi, bearer, example_fleet

OLD = Revision("main", "a" * 40)
NEW = Revision("main", "b" * 40)


def with_rollout(start_api: StartApi):  # type: ignore[no-untyped-def]
    fleet = example_fleet()
    guestbook = replace(fleet.applications[AppName("guestbook")], rollout=RolloutPolicy(bake=600))
    fleet = replace(fleet, applications={**fleet.applications, AppName("guestbook"): guestbook})
    api = start_api(fleet=fleet)
    now = api.store.now()
    api.store.start_rollout(
        Rollout(
            id="r1",
            application="guestbook",
            revision=NEW,
            digest=Digest("d2"),
            started_at=now,
            waves=2,
            phase=Phase.BAKING,
            bake_started_at=now,
            previous=OLD,
        ),
        RolloutPlan((Wave("canary", (ClusterName("c1"),)), Wave("rest", (ClusterName("c2"),)))),
        {ClusterName(c): Held(OLD, Digest("d1")) for c in ("c1", "c2")},
        {ClusterName("c1"): ClusterProgress(released_at=now, since=now)},
    )
    return api


def test_a_rollout_reads_with_its_waves_clusters_and_bake(start_api: StartApi) -> None:
    api = with_rollout(start_api)
    body = api.http.get("/api/v1/applications/guestbook/rollout").json()
    assert body["phase"] == "Baking" and body["revision"] == str(NEW)
    assert [(w["name"], w["state"]) for w in body["waves"]] == [
        ("canary", "baking"),
        ("rest", "waiting"),
    ]
    assert [(c["cluster"], c["state"]) for c in body["clusters"]] == [
        ("c1", "pending"),
        ("c2", "waiting"),
    ]
    assert 590 < body["bake_remaining"] <= 600 and body["actions"] == [
        "pause",
        "promote",
        "abort",
        "pin",
    ]
    missing = api.http.get("/api/v1/applications/api/rollout")
    assert missing.status_code == 404 and "api: no rollout yet" in missing.json()["detail"]


def test_rollout_actions_need_the_token_and_say_why_they_do_not_apply(start_api: StartApi) -> None:
    api = with_rollout(start_api)
    assert api.http.post("/api/v1/applications/guestbook/rollout/pause").status_code == 401
    paused = api.http.post("/api/v1/applications/guestbook/rollout/pause", headers=bearer())
    assert paused.status_code == 200 and paused.json()["phase"] == "Paused"
    refused = api.http.post("/api/v1/applications/guestbook/rollout/promote", headers=bearer())
    assert refused.status_code == 409 and "resume it before promoting" in refused.json()["detail"]
    none = api.http.post("/api/v1/applications/api/rollout/promote", headers=bearer())
    assert none.status_code == 409 and "api: no rollout in progress" in none.json()["detail"]
    aborted = api.http.post("/api/v1/applications/guestbook/rollout/abort", headers=bearer())
    assert aborted.json()["phase"] == "Aborted"
    queued = [
        (k["cluster"], k["reason"], bool(k.get("mirror")), p) for _, k, p in api.queued("apply")
    ]
    # The cluster the rollout reached is reconciled back to what it ran before, at once; the
    # pause had every target checked (which mirrors the rollout's state in each cluster), and
    # those checks absorb no reconcile that must apply.
    assert queued == [
        ("c1", "change", False, 0),
        ("c1", "drift", True, 3),
        ("c2", "drift", True, 3),
    ], queued


def test_the_freeze_refuses_manual_syncs_unless_it_allows_them(start_api: StartApi) -> None:
    api = start_api()
    frozen = api.http.post("/api/v1/freeze", headers=bearer(), json={"reason": "incident 7"})
    assert frozen.json()["frozen"] and frozen.json()["reason"] == "incident 7"
    assert api.http.get("/api/v1/freeze").json()["frozen"]
    refused = api.http.post("/api/v1/applications/guestbook/sync", headers=bearer())
    assert refused.status_code == 409
    assert (
        "the fleet is frozen" in refused.json()["detail"]
        and "incident 7" in refused.json()["detail"]
    )
    assert api.queued("apply") == []
    api.http.post("/api/v1/freeze", headers=bearer(), json={"reason": "x", "manual_sync": True})
    assert api.http.post("/api/v1/applications/guestbook/sync", headers=bearer()).status_code == 202
    assert api.http.delete("/api/v1/freeze", headers=bearer()).json() == {
        "frozen": False,
        "reason": "",
        "at": None,
        "manual_sync": False,
    }


def test_pin_and_unpin_need_the_token_record_the_reason_and_say_what_waits(
    start_api: StartApi,
) -> None:
    api = with_rollout(start_api)
    url = "/api/v1/applications/guestbook/rollout"
    assert api.http.post(f"{url}/pin", json={"reason": "x"}).status_code == 401
    pinned = api.http.post(f"{url}/pin", headers=bearer(), json={"reason": "watching c1"})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned"] is True and pinned.json()["waiting"] is None
    body = api.http.get(url).json()
    assert body["pinned"] and body["pin_reason"] == "watching c1"
    assert body["actions"] == ["pause", "promote", "abort", "unpin"]
    again = api.http.post(f"{url}/pin", headers=bearer())
    assert again.status_code == 409 and "already pinned: watching c1" in again.json()["detail"]
    wrong = api.http.post(f"{url}/promote", headers=bearer(), json={"reason": "x"})
    assert wrong.status_code == 409 and "a reason is recorded only with pin" in wrong.text
    # A newer commit arrives while pinned: it waits, and the rollout says so.
    r = api.store.rollout("guestbook")
    assert r is not None
    waiting = Waiting(Revision("main", "c" * 40), Digest("d3"), api.store.now())
    assert api.store.save_rollout(replace(r, waiting=waiting), expected=r.version, next_check=1.0)
    body = api.http.get(url).json()
    assert body["waiting_revision"] == str(waiting.revision)
    assert "main@sha1:cccccccccccc waits: the operator pinned the rollout" in body["waiting"]
    assert "(watching c1)" in body["waiting"]
    assert api.queued("fetch") == []
    # Unpinned: the waiting commit's repository is fetched again, which starts its rollout.
    unpinned = api.http.post(f"{url}/unpin", headers=bearer())
    assert unpinned.status_code == 200 and unpinned.json()["pinned"] is False
    assert [k for _, k, _ in api.queued("fetch")] == [{"repo": "platform", "force": True}]
    assert api.http.get(url).json()["actions"] == ["pause", "promote", "abort", "pin"]
    not_pinned = api.http.post(f"{url}/unpin", headers=bearer())
    assert not_pinned.status_code == 409 and "is not pinned" in not_pinned.json()["detail"]


def test_the_api_offers_every_rollout_action_of_the_table() -> None:
    assert [a.value for a in RolloutAction] == list(rollout_ops.ACTIONS)
