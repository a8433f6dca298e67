"""Every `kubectl create <type>` subcommand, run by real kubectl against kubesim and a real
kube-apiserver: kubectl sends these objects as protobuf, and both servers must end up storing
the same object (read back as JSON, normalized like every twin answer)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesim import Simulator
from tests.kubesim.conftest import CLUSTER, kubectl_runner, real_kubeconfig, unique
from tests.kubesim.twin import Answer, Twin
from tests.support.realk8s import RealClusters

CONTROLLER_ANNOTATIONS = frozenset({"deployment.kubernetes.io/revision"})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TLS key pair, a text file and a binary file for `create secret tls` / `configmap`."""
    d = tmp_path_factory.mktemp("create-files")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=example.com",
            "-keyout",
            str(d / "tls.key"),
            "-out",
            str(d / "tls.crt"),
        ],
        check=True,
        capture_output=True,
    )
    (d / "settings.txt").write_text("mode=fast\n")
    (d / "blob.bin").write_bytes(bytes(range(256)))
    return d


def stored_view(answer: Answer) -> Any:
    """The stored object without what controllers write meanwhile (status, the rollout's
    revision annotation, kube-controller-manager's managedFields entries)."""
    body = dict(answer.body)
    body.pop("status", None)
    meta = dict(body["metadata"])
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k not in CONTROLLER_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    meta["managedFields"] = [
        e for e in meta.get("managedFields", ()) if e["manager"] != "kube-controller-manager"
    ]
    body["metadata"] = meta
    return {"code": answer.code, "body": body}


# (kubectl create arguments, the object's path); {ns} is the test's namespace, {name} a name
# unique to the test (cluster-scoped objects), {files} the directory of `files`.
NAMESPACED: list[tuple[list[str], str]] = [
    (
        [
            "configmap",
            "cm",
            "--from-literal=a=1",
            "--from-literal=b=two",
            "--from-file={files}/settings.txt",
            "--from-file={files}/blob.bin",
        ],
        "/api/v1/namespaces/{ns}/configmaps/cm",
    ),
    (
        ["secret", "generic", "s", "--from-literal=password=s3cret", "--type=example.com/x"],
        "/api/v1/namespaces/{ns}/secrets/s",
    ),
    (
        ["secret", "tls", "s", "--cert={files}/tls.crt", "--key={files}/tls.key"],
        "/api/v1/namespaces/{ns}/secrets/s",
    ),
    (
        [
            "secret",
            "docker-registry",
            "s",
            "--docker-server=registry.example.com",
            "--docker-username=u",
            "--docker-password=p",
            "--docker-email=u@example.com",
        ],
        "/api/v1/namespaces/{ns}/secrets/s",
    ),
    (["serviceaccount", "sa"], "/api/v1/namespaces/{ns}/serviceaccounts/sa"),
    (
        ["deployment", "d", "--image=nginx:1.27", "--replicas=3", "--port=8080"],
        "/apis/apps/v1/namespaces/{ns}/deployments/d",
    ),
    (
        ["deployment", "d", "--image=nginx", "--image=busybox", "--replicas=0"],
        "/apis/apps/v1/namespaces/{ns}/deployments/d",
    ),
    (
        ["deployment", "d", "--image=busybox", "--", "sleep", "3600"],
        "/apis/apps/v1/namespaces/{ns}/deployments/d",
    ),
    (
        ["service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443"],
        "/api/v1/namespaces/{ns}/services/svc",
    ),
    (["service", "clusterip", "svc", "--clusterip=None"], "/api/v1/namespaces/{ns}/services/svc"),
    (
        ["service", "externalname", "svc", "--external-name=db.example.com"],
        "/api/v1/namespaces/{ns}/services/svc",
    ),
    (["job", "j", "--image=busybox", "--", "echo", "hi"], "/apis/batch/v1/namespaces/{ns}/jobs/j"),
    (
        [
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=*/5 * * * *",
            "--restart=OnFailure",
            "--",
            "echo",
            "hi",
        ],
        "/apis/batch/v1/namespaces/{ns}/cronjobs/cj",
    ),
    (
        ["role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=one"],
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/r",
    ),
    (
        [
            "rolebinding",
            "rb",
            "--role=r",
            "--user=alice",
            "--group=devs",
            "--serviceaccount={ns}:sa",
        ],
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/rb",
    ),
    (
        ["rolebinding", "rb", "--clusterrole=view", "--user=bob"],
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/rb",
    ),
    (
        ["quota", "q", "--hard=cpu=1500m,memory=1Gi,pods=2", "--scopes=NotBestEffort"],
        "/api/v1/namespaces/{ns}/resourcequotas/q",
    ),
    (
        ["poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/pdb",
    ),
    (
        ["poddisruptionbudget", "pdb", "--selector=app=web", "--max-unavailable=50%"],
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/pdb",
    ),
    (
        [
            "ingress",
            "ing",
            "--class=default",
            "--rule=foo.example.com/bar*=svc:8080,tls=cert",
            "--rule=/exact=other:http",
            "--default-backend=fallback:80",
            "--annotation=team=web",
        ],
        "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/ing",
    ),
]
CLUSTER_SCOPED: list[tuple[list[str], str]] = [
    (["namespace", "{name}"], "/api/v1/namespaces/{name}"),
    (
        [
            "clusterrole",
            "{name}",
            "--verb=get",
            "--non-resource-url=/healthz",
            "--non-resource-url=/version",
        ],
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    ),
    (
        ["clusterrole", "{name}", "--verb=*", "--resource=configmaps"],
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    ),
    (
        ["clusterrole", "{name}", "--aggregation-rule=example.com/aggregate=true"],
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    ),
    (
        [
            "clusterrolebinding",
            "{name}",
            "--clusterrole=view",
            "--user=alice",
            "--serviceaccount=default:default",
        ],
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
    ),
    (
        [
            "priorityclass",
            "{name}",
            "--value=1000",
            "--description=batch jobs",
            "--preemption-policy=Never",
        ],
        "/apis/scheduling.k8s.io/v1/priorityclasses/{name}",
    ),
    (["priorityclass", "{name}"], "/apis/scheduling.k8s.io/v1/priorityclasses/{name}"),
]


class KubectlTwin:
    """kubectl on kubesim and on the real server, then the stored objects compared."""

    def __init__(
        self, twin: Twin, sim: Simulator, real: RealClusters, tmp: Path, files: Path
    ) -> None:
        self.twin = twin
        self.files = files
        self.runs = {
            "kubesim": kubectl_runner(sim.kubeconfig_path(CLUSTER), tmp / "k-sim"),
            "real": kubectl_runner(real_kubeconfig(real), tmp / "k-real"),
        }
        self.name = unique("kc")

    def fill(self, text: str) -> str:
        return text.format(ns=self.twin.namespace, name=self.name, files=self.files)

    def create(self, args: list[str], *, namespaced: bool) -> None:
        where = ["-n", self.twin.namespace] if namespaced else []
        for run in self.runs.values():
            run(*where, "create", *[self.fill(a) for a in args])

    def same_object(self, path: str) -> Any:
        return self.twin.same("GET", self.fill(path), view=stored_view).body


@pytest.fixture
def kubectl_twin(
    twin: Twin, sim_session: Simulator, real_clusters: RealClusters, tmp_path: Path, files: Path
) -> Iterator[KubectlTwin]:
    pair = KubectlTwin(twin, sim_session, real_clusters, tmp_path, files)
    yield pair
    for server in twin.servers():
        for _, path in CLUSTER_SCOPED:
            server.request("DELETE", pair.fill(path))


@pytest.mark.parametrize(
    ("args", "path"), NAMESPACED, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None
)
def test_kubectl_create_stores_what_the_real_server_stores(
    kubectl_twin: KubectlTwin, args: list[str], path: str
) -> None:
    kubectl_twin.create(args, namespaced=True)
    stored = kubectl_twin.same_object(path)
    assert stored["metadata"]["name"] == args[2 if args[0] in ("secret", "service") else 1]


@pytest.mark.parametrize(
    ("args", "path"),
    CLUSTER_SCOPED,
    ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None,
)
def test_kubectl_create_of_cluster_scoped_objects_stores_the_same(
    kubectl_twin: KubectlTwin, args: list[str], path: str
) -> None:
    kubectl_twin.create(args, namespaced=False)
    stored = kubectl_twin.same_object(path)
    assert stored["metadata"]["name"] == kubectl_twin.name


def test_kubectl_create_job_from_a_cronjob_copies_its_template(kubectl_twin: KubectlTwin) -> None:
    kubectl_twin.create(
        ["cronjob", "cj", "--image=busybox", "--schedule=0 * * * *", "--", "date"], namespaced=True
    )
    kubectl_twin.create(["job", "manual", "--from=cronjob/cj"], namespaced=True)
    job = kubectl_twin.same_object("/apis/batch/v1/namespaces/{ns}/jobs/manual")
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
