"""What the control plane puts in every namespace: the root CA ConfigMap and the default
ServiceAccount (the real server's root-CA publisher and service account controller do it)."""

from __future__ import annotations

import uuid
from typing import Any

from kubesim.store import EventType, Store

ROOT_CA = "kube-root-ca.crt"
ROOT_CA_PEM = (
    "-----BEGIN CERTIFICATE-----\nMIIBkubesimSimulatedClusterCA\n-----END CERTIFICATE-----\n"
)
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
_CA_FIELDS = {
    "f:data": {".": {}, "f:ca.crt": {}},
    "f:metadata": {"f:annotations": {".": {}, "f:kubernetes.io/description": {}}},
}


def populate(store: Store, namespace: str, now: str) -> None:
    """Store the root CA ConfigMap and the default ServiceAccount of a new namespace."""
    store.put(
        ("", "configmaps"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": ROOT_CA,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now,
                "annotations": {"kubernetes.io/description": DESCRIPTION},
                "managedFields": [_entry(now)],
            },
            "data": {"ca.crt": ROOT_CA_PEM},
        },
        EventType.ADDED,
    )
    store.put(
        ("", "serviceaccounts"),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "default",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now,
            },
        },
        EventType.ADDED,
    )


def _entry(now: str) -> dict[str, Any]:
    return {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": "v1",
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": _CA_FIELDS,
    }
