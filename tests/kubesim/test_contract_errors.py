"""Bad input gets the Status error the real server gives, and the server keeps serving."""

from __future__ import annotations

import json

from kubernetes.client import ApiClient

from tests.kubesim.manifests import configmap, raw_request


def cm_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


def still_serving(api_client: ApiClient, namespace: str) -> bool:
    code, _ = raw_request(api_client, "GET", cm_path(namespace))
    return code == 200


def test_malformed_json_is_a_bad_request(api_client: ApiClient, namespace: str) -> None:
    code, status = raw_request(api_client, "POST", cm_path(namespace), b'{"apiVersion": ')
    assert (code, status["kind"], status["reason"]) == (400, "Status", "BadRequest")
    assert still_serving(api_client, namespace)


def test_malformed_yaml_apply_is_a_bad_request(api_client: ApiClient, namespace: str) -> None:
    code, status = raw_request(
        api_client,
        "PATCH",
        cm_path(namespace, "a") + "?fieldManager=t",
        b"kind: [unclosed\n  - : :",
        "application/apply-patch+yaml",
    )
    assert (code, status["reason"]) == (400, "BadRequest")
    assert still_serving(api_client, namespace)


def test_unknown_resource_is_not_found(api_client: ApiClient, namespace: str) -> None:
    code, status = raw_request(api_client, "GET", f"/api/v1/namespaces/{namespace}/gizmos")
    assert (code, status["reason"]) == (404, "NotFound")
    code, _ = raw_request(api_client, "GET", "/apis/nothing.example.com/v1")
    assert code == 404


def test_name_that_is_not_dns_1123_is_invalid_with_a_cause(
    api_client: ApiClient, namespace: str
) -> None:
    body = json.dumps(configmap("Not_Valid")).encode()
    code, status = raw_request(api_client, "POST", cm_path(namespace), body)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_mismatch_between_url_and_body_is_a_bad_request(
    api_client: ApiClient, namespace: str
) -> None:
    body = json.dumps(configmap("a", namespace="elsewhere")).encode()
    code, status = raw_request(api_client, "POST", cm_path(namespace), body)
    assert code == 400
    assert "does not match the namespace" in status["message"]


def test_kind_mismatch_between_url_and_body_is_a_bad_request(
    api_client: ApiClient, namespace: str
) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}).encode()
    code, _ = raw_request(api_client, "POST", cm_path(namespace), body)
    assert code == 400


def test_oversized_body_is_refused_with_413(api_client: ApiClient, namespace: str) -> None:
    big = json.dumps(configmap("big", {"blob": "x" * (4 * 1024 * 1024)})).encode()
    code, status = raw_request(api_client, "POST", cm_path(namespace), big)
    assert code == 413
    assert status.get("reason", "RequestEntityTooLarge") == "RequestEntityTooLarge"
    assert still_serving(api_client, namespace)


def test_unknown_patch_content_type_is_415(api_client: ApiClient, namespace: str) -> None:
    raw_request(api_client, "POST", cm_path(namespace), json.dumps(configmap("a")).encode())
    code, status = raw_request(api_client, "PATCH", cm_path(namespace, "a"), b"{}", "text/plain")
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
