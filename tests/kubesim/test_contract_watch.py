"""Watch: events from a resourceVersion, through the official client's watch helper."""

from __future__ import annotations

import threading

from kubernetes import watch
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.dynamic import DynamicClient

from tests.kubesim.manifests import configmap


def test_watch_streams_added_modified_and_deleted_from_a_resource_version(
    dyn: DynamicClient, api_client: ApiClient, namespace: str
) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    start = cms.get(namespace=namespace).metadata.resourceVersion

    def writes() -> None:
        # No need to wait for the watch: it replays everything after `start`.
        cms.create(body=configmap("w", {"v": "1"}), namespace=namespace)
        cms.patch(
            name="w",
            namespace=namespace,
            body={"data": {"v": "2"}},
            content_type="application/merge-patch+json",
        )
        cms.delete(name="w", namespace=namespace)

    writer = threading.Thread(target=writes)
    writer.start()
    seen = []
    stream = watch.Watch()
    for event in stream.stream(
        CoreV1Api(api_client).list_namespaced_config_map,
        namespace=namespace,
        resource_version=start,
        timeout_seconds=10,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            stream.stop()
    writer.join()
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_resource_version_starts_with_existing_objects(
    dyn: DynamicClient, api_client: ApiClient, namespace: str
) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body=configmap("already", labels={"watched": "yes"}), namespace=namespace)
    stream = watch.Watch()
    for event in stream.stream(
        CoreV1Api(api_client).list_namespaced_config_map,
        namespace=namespace,
        label_selector="watched=yes",
        timeout_seconds=5,
    ):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "already")
        stream.stop()


def test_a_watch_allowing_bookmarks_gets_one_with_a_resource_version_before_it_times_out(
    dyn: DynamicClient, api_client: ApiClient, namespace: str
) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    start = int(cms.get(namespace=namespace).metadata.resourceVersion)
    cms.create(body=configmap("marked", labels={"watched": "yes"}), namespace=namespace)
    kinds = []
    bookmark_rv = 0
    for event in watch.Watch().stream(
        CoreV1Api(api_client).list_namespaced_config_map,
        namespace=namespace,
        label_selector="watched=yes",
        resource_version=str(start),
        allow_watch_bookmarks=True,
        timeout_seconds=10,
        _preload_content=False,
    ):
        kinds.append(event["type"])
        if event["type"] == "BOOKMARK":
            bookmark_rv = int(event["raw_object"]["metadata"]["resourceVersion"])
    assert kinds[0] == "ADDED"
    assert "BOOKMARK" in kinds
    assert bookmark_rv > start
