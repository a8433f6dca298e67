"""What a cluster refused as a second name of another says (the claims themselves are tested
live, in tests/integration/kube/test_cluster_identity.py)."""

from __future__ import annotations

import pytest

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.kube.identity import DuplicateCluster


@pytest.mark.parametrize(("uid", "shown"), [("0f3a-77", "0f3a-77"), ("", "unknown")])
def test_a_duplicate_cluster_names_both_the_uid_and_what_to_do(uid: str, shown: str) -> None:
    refused = DuplicateCluster(cluster="eu-2", owner="eu-1", uid=uid)
    assert str(refused) == (
        f"cluster eu-2: its kubeconfig reaches the same Kubernetes cluster as cluster eu-1 "
        f"(kube-system uid {shown}); fleetsync manages it as eu-1 only and writes nothing "
        "through eu-2: remove one of the two from fleet.yaml or point its kubeconfig at the "
        "cluster meant"
    )
    assert (refused.cluster, refused.owner, refused.uid) == ("eu-2", "eu-1", uid)
    assert isinstance(refused, PermanentError), "refused for good, not retried"
