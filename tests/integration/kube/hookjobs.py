"""Hook Jobs for the live tests, and Jobs brought to an end the way the job controller would.

Real API servers here have no kubelet: a Job's Pod never runs, so its Job never completes by
itself. `finish_job` writes the Job's status through the status subresource as the job controller
does when its Pod succeeded (or failed), under a field manager that says it is the test standing
in for that controller. On kubesim the simulated job controller would complete Jobs on its own
after its delay: `hold_jobs` sets its `job_result` knob to "run", so the test decides there too.
Hook Pods end on kubesim by that knob, and by `end_pod` standing in for the kubelet on a real
server.
"""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.hooks import HOOK_LABEL
from tests.integration.kube.conftest import Live
from tests.support.waiting import wait_for

HOOK = "argocd.argoproj.io/hook"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
STAND_IN = "test-standing-in-for-the-job-controller"


def hook_job(
    name: str,
    ns: str,
    phase: str,
    *,
    generate: bool = True,
    policy: str | None = None,
    image: str = "example/migrate:1",
    wave: int | None = None,
) -> dict[str, Any]:
    annotations = {HOOK: phase}
    if policy is not None:
        annotations[DELETE_POLICY] = policy
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    metadata: dict[str, Any] = {"namespace": ns, "annotations": annotations}
    metadata["generateName" if generate else "name"] = f"{name}-" if generate else name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": name, "image": image}],
                }
            },
        },
    }


def hold_jobs(live: Live) -> None:
    """Jobs stay active until the test ends them (kubesim's controller would end them)."""
    if live.simulated:
        live.sim.set_controllers(enabled=True, ready_delay=0.1, job_result="run")


def finish_job(live: Live, name: str, *, succeeded: bool = True) -> None:
    """End Job `name` as the job controller does when its Pod succeeded or failed."""
    now = "2026-01-01T00:00:00Z"
    kind, reason, message = (
        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
        if succeeded
        else ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    )
    status: dict[str, Any] = {
        "startTime": now,
        "conditions": [
            {
                "type": kind,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastProbeTime": now,
                "lastTransitionTime": now,
            }
        ],
    }
    if succeeded:
        status.update(succeeded=1, completionTime=now)
    else:
        status.update(failed=1)
    live.operator.request(
        "PATCH",
        f"/apis/batch/v1/namespaces/{live.ns}/jobs/{name}/status",
        {"status": status},
        content_type="application/merge-patch+json",
        fieldManager=STAND_IN,
    )


def hook_jobs(live: Live) -> list[dict[str, Any]]:
    """The Jobs fleetsync created as hooks in the test's namespace."""
    found = live.operator.request(
        "GET", f"/apis/batch/v1/namespaces/{live.ns}/jobs", labelSelector=HOOK_LABEL
    )
    return list(found.get("items") or [])


def hook_pod(name: str, ns: str, phase: str) -> dict[str, Any]:
    """A hook Pod that runs to completion (restartPolicy Never), named by generateName."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": f"{name}-", "namespace": ns, "annotations": {HOOK: phase}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": name, "image": "example/check:1"}],
        },
    }


def end_pod(live: Live, name: str, *, succeeded: bool) -> None:
    """Pod `name` ends as the kubelet reports it: by itself on kubesim (its controllers'
    `job_result`), through the status subresource on a real server (no kubelet runs it)."""
    path = f"/api/v1/namespaces/{live.ns}/pods/{name}"
    if live.simulated:
        wait_for(
            lambda: (
                (live.operator.get(path) or {}).get("status", {}).get("phase")
                in ("Succeeded", "Failed")
            ),
            what=f"pod {name} to end",
        )
        return
    now = "2026-01-01T00:00:00Z"
    code, reason = (0, "Completed") if succeeded else (1, "Error")
    terminated = {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}
    status = {
        "phase": "Succeeded" if succeeded else "Failed",
        "startTime": now,
        "containerStatuses": [
            {
                "name": path.rpartition("/")[2].rpartition("-")[0],
                "ready": False,
                "restartCount": 0,
                "image": "example/check:1",
                "imageID": "",
                "state": {"terminated": terminated},
            }
        ],
    }
    live.operator.request(
        "PATCH",
        f"{path}/status",
        {"status": status},
        content_type="application/merge-patch+json",
        fieldManager=STAND_IN,
    )
