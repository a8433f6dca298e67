"""How the API server's answers become errors: an object refused is the object's error, the
cluster failing is transient, credentials refused are permanent; and which refusals are about
fields that cannot change in place. Answers as real kube-apiservers give them."""

from __future__ import annotations

import json
from http.client import IncompleteRead
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

from fleetsync.shared.errors import ClusterFailure, PermanentError, TransientError
from fleetsync.shared.kube.client import (
    ApiResource,
    Cause,
    ClusterClient,
    Forbidden,
    ObjectForbidden,
    RequestRejected,
    _short,
)
from fleetsync.shared.kube.replace import immutable_fields
from fleetsync.shared.model.ids import ClusterName


def answer(code: int, message: str, *, reason: str = "", causes: Any = None) -> ApiException:
    e = ApiException(status=code, reason="Internal Server Error" if code == 500 else "")
    body: dict[str, Any] = {"kind": "Status", "status": "Failure", "message": message, "code": code}
    if reason:
        body["reason"] = reason
    if causes is not None:
        body["details"] = {"causes": causes}
    e.body = json.dumps(body)
    return e


@pytest.fixture
def client() -> ClusterClient:
    return ClusterClient(
        name=ClusterName("prod"),
        kubeconfig="/k/prod.yaml",
        api_client=None,
        cache_file=None,  # type: ignore[arg-type]
    )


TYPED = (
    "failed to create typed patch object (web/api; apps/v1, Kind=Deployment): "
    ".spec.replicas: expected numeric (int or float), got string"
)


def test_a_500_saying_the_object_could_not_be_typed_refuses_the_object(
    client: ClusterClient,
) -> None:
    error = client._api_error(answer(500, TYPED))
    assert isinstance(error, RequestRejected)
    assert str(error) == f"500 Internal Server Error: {TYPED}"


def test_any_other_500_is_transient_but_not_the_whole_cluster_s(client: ClusterClient) -> None:
    # A 500 is the request's: one object's admission webhook that failed, one etcd key. It is
    # retried, and the cluster's other applications are reconciled meanwhile.
    error = client._api_error(answer(500, "etcdserver: request timed out", reason="InternalError"))
    assert isinstance(error, TransientError)
    assert not isinstance(error, ClusterFailure)
    webhook = (
        'Internal error occurred: failed calling webhook "check.example.com": failed to call '
        'webhook: Post "https://check.default.svc:443/validate": no endpoints available'
    )
    error = client._api_error(answer(500, webhook, reason="InternalError"))
    assert str(error).startswith("cluster prod: 500 InternalError: "), "its words unchanged"
    assert isinstance(error, TransientError) and not isinstance(error, ClusterFailure)


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_throttling_or_an_api_server_that_cannot_serve_is_the_whole_cluster_s(
    client: ClusterClient, code: int
) -> None:
    error = client._api_error(answer(code, "the server is currently unable to handle the request"))
    assert isinstance(error, TransientError) and isinstance(error, ClusterFailure)


def test_credentials_refused_are_the_whole_cluster_s(client: ClusterClient) -> None:
    error = client._api_error(answer(401, "Unauthorized"))
    assert isinstance(error, PermanentError) and isinstance(error, ClusterFailure)
    assert str(error) == (
        "cluster prod: credentials refused (401 Unauthorized); check the user of kubeconfig "
        "/k/prod.yaml"
    )


def test_a_403_from_admission_refuses_the_object(client: ClusterClient) -> None:
    message = (
        'configmaps "b" is forbidden: exceeded quota: few, requested: count/configmaps=1, '
        "used: count/configmaps=2, limited: count/configmaps=2"
    )
    error = client._api_error(answer(403, message, reason="Forbidden"))
    assert isinstance(error, RequestRejected) and not isinstance(error, Forbidden)
    assert error.code == 403 and "exceeded quota" in str(error)


def test_a_403_from_authorization_is_the_credentials(client: ClusterClient) -> None:
    message = (
        'configmaps is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource '
        '"configmaps" in API group "" at the cluster scope'
    )
    error = client._api_error(answer(403, message, reason="Forbidden"))
    assert isinstance(error, Forbidden) and isinstance(error, ClusterFailure)
    assert "credentials refused" in str(error) and "/k/prod.yaml" in str(error)
    assert isinstance(client._api_error(answer(403, "")), Forbidden)


CONFIG_MAPS = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
DENIED = (
    'configmaps "web" is forbidden: User "system:serviceaccount:ci:deployer" cannot patch '
    'resource "configmaps" in API group "" in the namespace "team-b"'
)


def refused_about(
    client: ClusterClient, doing: str, *, namespace: str, detail: str = DENIED
) -> Exception:
    """What a request about one object raises when the server answers RBAC's 403."""
    about = client._about(doing, CONFIG_MAPS, name="web", namespace=namespace)
    with pytest.raises(Forbidden) as caught, about:
        raise client._api_error(answer(403, detail, reason="Forbidden"))
    return caught.value


def test_rbac_refusing_a_write_of_one_object_is_that_object_s_saying_what_to_grant(
    client: ClusterClient,
) -> None:
    error = refused_about(client, "apply", namespace="team-b")
    assert isinstance(error, ObjectForbidden) and not isinstance(error, ClusterFailure)
    assert (error.doing, error.verb, str(error.key)) == (
        "apply",
        "patch",
        "core/ConfigMap/team-b/web",
    )
    assert str(error) == (
        f"the apply of core/ConfigMap/team-b/web was forbidden (RBAC: {DENIED}): the user of "
        'kubeconfig /k/prod.yaml lacks the "patch" verb on configmaps in namespace team-b: '
        "grant it"
    )
    assert "credentials refused" not in str(error)


def test_without_the_server_s_words_the_verb_is_the_request_s(client: ClusterClient) -> None:
    error = refused_about(client, "create", namespace="team-b", detail="")
    assert isinstance(error, ObjectForbidden)
    assert error.verb == "create" and "(RBAC: 403 Forbidden)" in str(error)


def test_rbac_refusing_fleetsync_s_own_records_is_the_whole_cluster_s(
    client: ClusterClient,
) -> None:
    error = refused_about(client, "get", namespace="fleetsync-system")
    assert isinstance(error, ObjectForbidden) and isinstance(error, ClusterFailure)
    assert str(error).startswith(
        "cluster prod: the get of core/ConfigMap/fleetsync-system/web was forbidden (RBAC: "
    )


def test_the_causes_of_a_refusal_are_kept(client: ClusterClient) -> None:
    causes = [{"reason": "FieldValueInvalid", "message": "Invalid value: 0", "field": "spec.size"}]
    error = client._api_error(answer(422, "Gadget is invalid", reason="Invalid", causes=causes))
    assert isinstance(error, RequestRejected)
    assert error.causes == (
        Cause(field="spec.size", reason="FieldValueInvalid", message="Invalid value: 0"),
    )


def rejected(*causes: tuple[str, str], code: int = 422) -> RequestRejected:
    return RequestRejected(
        code=code,
        reason="Invalid",
        message="invalid",
        causes=tuple(Cause(field=f, reason="FieldValueInvalid", message=m) for f, m in causes),
    )


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("spec.selector", "Invalid value: v1.LabelSelector{...}: field is immutable"),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
        ("spec.clusterIPs[0]", 'Invalid value: []string{"10.0.0.99"}: may not change once set'),
        ("roleRef", "Invalid value: rbac.RoleRef{...}: cannot change roleRef"),
        (
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden",
        ),
    ],
)
def test_fields_that_cannot_change_in_place_are_recognised(field: str, message: str) -> None:
    assert immutable_fields(rejected((field, message))) == (field,)


def test_a_refusal_with_any_other_cause_is_not_an_immutable_field() -> None:
    mixed = rejected(
        ("spec.selector", "field is immutable"),
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
    )
    assert immutable_fields(mixed) == ()
    assert immutable_fields(rejected(("spec.selector", "field is immutable"), code=409)) == ()
    assert immutable_fields(rejected()) == ()
    assert isinstance(mixed, PermanentError)


@pytest.mark.parametrize(
    ("reason", "expected", "kind"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            "cluster prod: TLS handshake failed; check the certificate authority in kubeconfig "
            "/k/prod.yaml",
            PermanentError,
        ),
        ("Connection refused", "cluster prod: unreachable: Connection refused", TransientError),
    ],
    ids=["tls", "no_answer"],
)
def test_an_answer_without_a_status_is_the_cluster_s_failure(
    client: ClusterClient, reason: str, expected: str, kind: type[Exception]
) -> None:
    """The kubernetes client reports a request that got no HTTP answer with status 0."""
    error = client._api_error(ApiException(status=0, reason=reason))
    assert (str(error), isinstance(error, kind), isinstance(error, ClusterFailure)) == (
        expected,
        True,
        True,
    )


def test_a_client_shows_its_cluster(client: ClusterClient) -> None:
    assert repr(client) == "ClusterClient('prod')"


@pytest.mark.parametrize(
    ("cause", "shown"),
    [
        (None, "connection failed"),
        (OSError("plain"), "plain"),
        (OSError("HTTPConnectionPool: Max retries: Connection refused"), "Connection refused"),
        (OSError("nothing after: "), "nothing after: "),
        (
            ProtocolError("Connection aborted.", ConnectionResetError("reset by peer")),
            "Connection aborted: reset by peer",
        ),
        (
            ProtocolError(
                "Connection broken: IncompleteRead(3 bytes read)", IncompleteRead(b"abc")
            ),
            "Connection broken: IncompleteRead(3 bytes read)",
        ),
    ],
)
def test_a_transport_failure_shows_its_last_words(cause: BaseException | None, shown: str) -> None:
    assert _short(cause) == shown
