"""The thin path sends what the kubernetes client would: the same query string and the same JSON
for every value a manifest loaded from YAML can hold (checked against the client's own code)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, Configuration

from fleetsync.shared.kube.transport import _jsonable, _query_string


@pytest.fixture(scope="module")
def api_client() -> ApiClient:
    return ApiClient(Configuration())


@pytest.mark.parametrize(
    "query",
    [
        [("fieldValidation", "Strict"), ("fieldManager", "fleetsync"), ("force", True)],
        [("force", False), ("dryRun", "All")],
        [("limit", 1), ("labelSelector", "app.kubernetes.io/managed-by=fleetsync")],
        [("labelSelector", "tier in (web, api),!legacy,env!=prod")],
        [("propagationPolicy", "Foreground")],
        [("labelSelector", "name=ä/ü+%")],
    ],
)
def test_a_query_is_quoted_as_the_kubernetes_client_quotes_it(
    api_client: ApiClient, query: list[tuple[str, Any]]
) -> None:
    assert _query_string(query) == api_client.parameters_to_url_query(query, None)


def test_a_manifest_s_dates_and_timestamps_are_sent_as_the_client_sends_them(
    api_client: ApiClient,
) -> None:
    manifest = yaml.safe_load(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: dates, annotations: {when: 2024-01-31}}
        data: {at: 2024-01-31T10:20:30Z, ratio: 1.5, n: 3, on: true, none: null, list: [a, 1]}
        """
    )
    assert isinstance(manifest["metadata"]["annotations"]["when"], datetime.date)

    sent = json.loads(json.dumps(manifest, default=_jsonable))

    assert sent == json.loads(json.dumps(api_client.sanitize_for_serialization(manifest)))
    assert sent["data"]["at"] == "2024-01-31T10:20:30+00:00"


def test_a_value_json_cannot_hold_is_refused_as_the_client_refuses_it() -> None:
    with pytest.raises(TypeError, match="a bytes cannot be sent as JSON"):
        json.dumps({"data": b"raw"}, default=_jsonable)
